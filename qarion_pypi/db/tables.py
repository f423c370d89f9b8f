"""Portable SQLAlchemy Core schema. Ids are UUID strings; times are timezone-aware UTC.

Lengths bound only what the API itself bounds; what clients and upstreams write freely (names,
versions, URLs) is Text, since PostgreSQL enforces a VARCHAR's length and SQLite does not."""

from __future__ import annotations

import sqlalchemy as sa

# The shared MetaData and column helpers (columns.py), under the short names the tables use.
from qarion_pypi.db.columns import id_column as _id
from qarion_pypi.db.columns import metadata as metadata
from qarion_pypi.db.columns import reference as _fk
from qarion_pypi.db.columns import timestamp as _time

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    _time("created_at"),
    # A deactivated account's keys all fail at once; the account and its history stay.
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # "user", or "robot": a space's CI account, named "sa$<name>" (space_id: its space; no foreign
    # key, as spaces point back at users)
    sa.Column("kind", sa.String(8), nullable=False, server_default="user"),
    sa.Column("space_id", sa.String(36), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    _fk("user_id", "users.id"),
    sa.Column("name", sa.String(200), nullable=False),
    # Shown to people so they can tell keys apart; never enough to use the key.
    sa.Column("prefix", sa.String(16), nullable=False),
    # SHA-256 of the whole key: keys are high-entropy, so a slow hash adds nothing.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    _time("created_at"),
    _time("last_used_at", nullable=True),
    _time("revoked_at", nullable=True),
    # Limits, never more than the owner holds: NULL is none. scopes: a list of "read", "publish";
    # repository_ids: the only repositories the key reaches.
    _time("expires_at", nullable=True),
    sa.Column("scopes", sa.JSON, nullable=True),
    sa.Column("repository_ids", sa.JSON, nullable=True),
)

spaces = sa.Table(
    "spaces",
    metadata,
    _id(),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    _time("created_at"),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
)

space_members = sa.Table(
    "space_members",
    metadata,
    _fk("space_id", "spaces.id"),
    _fk("user_id", "users.id"),
    sa.Column("role", sa.String(16), nullable=False),
    _time("created_at"),
    sa.PrimaryKeyConstraint("space_id", "user_id"),
)

teams = sa.Table(
    "teams",
    metadata,
    _id(),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    _time("created_at"),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    _fk("team_id", "teams.id"),
    _fk("user_id", "users.id"),
    _time("created_at"),
    sa.PrimaryKeyConstraint("team_id", "user_id"),
)

project_scopes = sa.Table(
    "project_scopes",
    metadata,
    _id(),
    _fk("space_id", "spaces.id"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("source_type", sa.Text, nullable=True),
    sa.Column("source_id", sa.Text, nullable=True),
    sa.Column("source_metadata", sa.JSON, nullable=False, default=dict),
    # role_based, none, view, publish or edit: what plain space membership grants here.
    sa.Column("space_member_access_level", sa.String(16), nullable=False, default="role_based"),
    _time("created_at"),
    _time("updated_at"),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    _fk("updated_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.UniqueConstraint("space_id", "slug", name="uq_project_scope_slug"),
)

# Direct grants on a project scope to a user or a team (principal_id is that row's id).
project_scope_grants = sa.Table(
    "project_scope_grants",
    metadata,
    _fk("project_scope_id", "project_scopes.id"),
    sa.Column("principal_type", sa.String(8), nullable=False),
    sa.Column("principal_id", sa.String(36), nullable=False),
    sa.Column("access_level", sa.String(16), nullable=False),
    sa.PrimaryKeyConstraint("project_scope_id", "principal_type", "principal_id"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    _id(),
    _fk("space_id", "spaces.id"),
    _fk("project_scope_id", "project_scopes.id", nullable=True),
    # project_scope_id or "" for space-wide: NULLs never collide in a unique index.
    sa.Column("scope_key", sa.String(36), nullable=False, default=""),
    sa.Column("kind", sa.String(16), nullable=False, default="hosted"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    _time("archived_at", nullable=True),
    _time("created_at"),
    _time("updated_at"),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    _fk("updated_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    # Bumped by every change to the repository's contents: keys page caches and ETags.
    sa.Column("serial", sa.Integer, nullable=False, default=0),
    # proxy: the upstream Simple API, how long its pages are fresh, how files reach clients
    sa.Column("remote_url", sa.String(1000), nullable=True),
    sa.Column("cache_ttl", sa.Integer, nullable=True),
    sa.Column("file_mode", sa.String(16), nullable=True),
    sa.Column("upstream_username", sa.String(200), nullable=True),
    sa.Column("upstream_password", sa.String(1000), nullable=True),
    # virtual: per-version merging instead of first-owner-wins, and where uploads go
    sa.Column("merge", sa.Boolean, nullable=False, default=False),
    sa.Column("upload_target_id", sa.String(36), nullable=True),
    # "public": client endpoints (pages, files, metadata) answer without credentials
    sa.Column("visibility", sa.String(8), nullable=False, server_default="private"),
    # hosted: refuse uploads without a PEP 740 attestation from one of the trusted publishers
    sa.Column("require_attestations", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cooldown", sa.JSON, nullable=True),  # proxy, virtual: {min_release_age, allow, allow_undated}
    sa.UniqueConstraint("space_id", "scope_key", "slug", name="uq_repository_slug"),
)

# A virtual repository's members, in priority order.
repository_members = sa.Table(
    "repository_members",
    metadata,
    _fk("virtual_id", "repositories.id"),
    _fk("member_id", "repositories.id"),
    sa.Column("position", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("virtual_id", "member_id"),
)

# A proxy's copy of an upstream project page (the parsed document, with upstream URLs).
proxy_pages = sa.Table(
    "proxy_pages",
    metadata,
    _fk("repository_id", "repositories.id"),
    sa.Column("normalized_name", sa.Text, nullable=False),
    sa.Column("etag", sa.Text, nullable=True),
    _time("fetched_at"),
    sa.Column("document", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("repository_id", "normalized_name"),
)

# Files a proxy has seen upstream; blob_sha256 is set once the bytes are cached and verified.
proxy_files = sa.Table(
    "proxy_files",
    metadata,
    _id(),
    _fk("repository_id", "repositories.id"),
    sa.Column("normalized_name", sa.Text, nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    # upstream PEP 658 state: its sha256, "true" (available, no hash) or NULL (none)
    sa.Column("upstream_metadata", sa.String(64), nullable=True),
    sa.Column("blob_sha256", sa.String(64), nullable=True),
    sa.Column("metadata_sha256", sa.String(64), nullable=True),
    # Once the metadata is here: whether resolvers may trust it (PEP 643), and its resolver fields.
    sa.Column("metadata_trusted", sa.Boolean, nullable=True),
    sa.Column("dependencies", sa.JSON, nullable=True),
    sa.UniqueConstraint("repository_id", "filename", name="uq_proxy_file"),
)

packages = sa.Table(
    "packages",
    metadata,
    _id(),
    _fk("repository_id", "repositories.id"),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("normalized_name", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    _time("created_at"),
    _time("updated_at"),
    # PEP 792: active, archived (no uploads), deprecated, quarantined (no files served, no uploads)
    sa.Column("status", sa.String(12), nullable=False, server_default="active"),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.UniqueConstraint("repository_id", "normalized_name", name="uq_package_name"),
)

files = sa.Table(
    "files",
    metadata,
    _id(),
    _fk("repository_id", "repositories.id"),
    _fk("package_id", "packages.id"),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    # The release it belongs to: the version as PEP 440 compares it ("1.0", "1.0.0" and "01.0"
    # are all "1"), so one release's files are an index lookup (``filenames.canonical_version``).
    # NULL only in a database of schema 7 until its upgrade has filled it in.
    sa.Column("canonical_version", sa.Text, nullable=True),
    sa.Column("distribution_type", sa.String(16), nullable=False),
    sa.Column("python_version", sa.Text, nullable=False, default=""),
    sa.Column("requires_python", sa.Text, nullable=True),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("requires_dist", sa.JSON, nullable=False, default=list),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("blake2_256", sa.String(64), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("storage_backend", sa.String(32), nullable=False),
    # Core metadata (PEP 658), a row of core_metadata; NULL when the file has none.
    sa.Column("metadata_sha256", sa.String(64), nullable=True),
    # May resolvers use it instead of the file (always for wheels; PEP 643 decides for sdists)?
    sa.Column("metadata_trusted", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    # The rest of what resolvers read from core metadata, shown in JSON pages when trusted.
    sa.Column("requires_external", sa.JSON, nullable=False, default=list, server_default="[]"),
    sa.Column("provides_extra", sa.JSON, nullable=False, default=list, server_default="[]"),
    sa.Column("yanked", sa.Boolean, nullable=False, default=False),
    sa.Column("yanked_reason", sa.Text, nullable=True),
    _time("yanked_at", nullable=True),
    _fk("uploaded_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    _time("created_at"),
    # provenance: "upload", "import" (with where from) or "promotion" (promoted_from: the source)
    sa.Column("source", sa.String(16), nullable=False, default="upload"),
    sa.Column("upstream_url", sa.Text, nullable=True),
    _time("upstream_upload_time", nullable=True),
    sa.Column("upstream_sha256", sa.String(64), nullable=True),
    sa.Column("promoted_from", sa.JSON, nullable=True),
    # The trusted publisher (OIDC identity) of a minted-token upload; NULL for API keys.
    sa.Column("publisher", sa.JSON, nullable=True),
    # PEP 740: the publisher whose attestation verified (provenance in file_provenance), or NULL.
    sa.Column("attested_by", sa.JSON, nullable=True),
    # The latest scan's state, kept beside the file so pages and downloads decide blocking
    # without a join: not_scanned, pending, running, completed, failed or skipped.
    sa.Column("scan_status", sa.String(16), nullable=False, default="not_scanned", server_default="not_scanned"),
    sa.Column("scan_max_severity", sa.String(16), nullable=True),
    sa.Column("scan_finding_count", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.UniqueConstraint("repository_id", "filename", name="uq_file_filename"),
)

# METADATA / PKG-INFO bytes by SHA-256: small, read whole (PEP 658), so beside the rows, not blobs.
core_metadata = sa.Table(
    "core_metadata",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

# Every filename ever accepted per repository: a deleted file's name is never reused.
filename_registry = sa.Table(
    "filename_registry",
    metadata,
    _fk("repository_id", "repositories.id"),
    sa.Column("filename", sa.String(255), nullable=False),
    _time("created_at"),
    sa.PrimaryKeyConstraint("repository_id", "filename"),
)

# A blob being placed for a row not yet written: release_unreferenced leaves it alone. A crashed
# upload's claim is dropped by the orphan collector once it is older than its grace period.
blob_claims = sa.Table(
    "blob_claims",
    metadata,
    _id(),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    _time("created_at"),
)

# Every management change, upload, yank and delete, whatever its outcome (DESIGN.md, issue 6).
audit_events = sa.Table(
    "audit_events",
    metadata,
    _id(),
    _time("occurred_at"),
    sa.Column("actor_id", sa.String(36), nullable=True),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("resource_id", sa.Text, nullable=True),
    # what people call the resource: a slug, a filename, a username
    sa.Column("resource_name", sa.String(255), nullable=True),
    sa.Column("space", sa.Text, nullable=True),
    # success, denied (401/403/404) or failed (any other refusal)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)

# Background jobs (retention runs, imports, scans): persisted, so a restart neither loses nor re-runs them.
jobs = sa.Table(
    "jobs",
    metadata,
    _id(),
    sa.Column("kind", sa.String(32), nullable=False),
    _fk("repository_id", "repositories.id", nullable=True),
    # queued, running, completed or failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("percent", sa.Integer, nullable=False, default=0),
    sa.Column("phase", sa.String(64), nullable=False, default="queued"),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("progress_events", sa.JSON, nullable=False, default=list),
    sa.Column("params", sa.JSON, nullable=False, default=dict),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    _time("created_at"),
    _time("started_at", nullable=True),
    _time("finished_at", nullable=True),
    # Who runs it ("host:pid:token") and until when that claim holds unless renewed: a job whose
    # runner died is failed once its lease runs out, by whichever process notices first.
    sa.Column("claimed_by", sa.Text, nullable=True),
    _time("lease_until", nullable=True),
    sa.Index("ix_jobs_status", "status"),
)

# Trusted publishers: CI identities (an OIDC issuer's claims) that may upload with minted tokens.
trusted_publishers = sa.Table(
    "trusted_publishers",
    metadata,
    _id(),
    _fk("repository_id", "repositories.id"),
    sa.Column("kind", sa.String(8), nullable=False),  # github, gitlab or oidc
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("claims", sa.JSON, nullable=False),
    _time("created_at"),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
)

# Upload tokens minted for a CI job's OIDC token: stored as digests, like API keys.
publish_tokens = sa.Table(
    "publish_tokens",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("repository_ids", sa.JSON, nullable=False),
    sa.Column("publisher_ids", sa.JSON, nullable=False),
    # who it was minted for, as the token's claims said (issuer, subject, the claims that matched)
    sa.Column("identity", sa.JSON, nullable=False),
    _time("created_at"),
    _time("expires_at"),
)

# OIDC token ids already exchanged, kept until the token would have expired: each is used once.
oidc_jtis = sa.Table(
    "oidc_jtis",
    metadata,
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("jti", sa.Text, nullable=False),
    _time("expires_at"),
    sa.PrimaryKeyConstraint("issuer", "jti"),
)

# PEP 740 provenance of an attested file, as the Integrity API serves it.
file_provenance = sa.Table(
    "file_provenance",
    metadata,
    sa.Column("file_id", sa.String(36), sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("provenance", sa.Text, nullable=False),
)

# Web sign-ins: the row ties a cookie's token to the API key it was made from (sessions.py).
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    _fk("api_key_id", "api_keys.id"),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    _time("created_at"),
    _time("expires_at"),
)

# Per-repository retention rules; each selects releases and says how long or how many to keep.
retention_rules = sa.Table(
    "retention_rules",
    metadata,
    _id(),
    _fk("repository_id", "repositories.id"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("match_version_regex", sa.String(500), nullable=True),
    sa.Column("prereleases_only", sa.Boolean, nullable=False, default=False),
    sa.Column("max_age_days", sa.Integer, nullable=True),
    sa.Column("keep_latest", sa.Integer, nullable=True),
)

sa.Index("ix_audit_time", audit_events.c.occurred_at)
sa.Index("ix_proxy_files_blob", proxy_files.c.blob_sha256)
sa.Index("ix_proxy_files_metadata_sha256", proxy_files.c.metadata_sha256)
sa.Index("ix_files_package_version", files.c.package_id, files.c.canonical_version)
sa.Index("ix_files_sha256", files.c.sha256)
sa.Index("ix_files_metadata_sha256", files.c.metadata_sha256)
sa.Index("ix_space_members_user", space_members.c.user_id)
sa.Index("ix_api_keys_user", api_keys.c.user_id)
sa.Index("ix_users_space", users.c.space_id)
sa.Index("ix_trusted_publishers_repository", trusted_publishers.c.repository_id)
sa.Index("ix_trusted_publishers_issuer", trusted_publishers.c.issuer)
sa.Index("ix_team_members_user", team_members.c.user_id)
sa.Index("ix_grants_principal", project_scope_grants.c.principal_type, project_scope_grants.c.principal_id)

# The vulnerability scanning tables live in their own module; here for ``tables.scan_policies``.
from qarion_pypi.db.tables_scanning import file_scans as file_scans  # noqa: E402
from qarion_pypi.db.tables_scanning import osv_packages as osv_packages  # noqa: E402
from qarion_pypi.db.tables_scanning import osv_records as osv_records  # noqa: E402
from qarion_pypi.db.tables_scanning import scan_policies as scan_policies  # noqa: E402
