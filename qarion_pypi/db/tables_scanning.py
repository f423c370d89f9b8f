"""The vulnerability scanning tables: policies, scans, and the imported OSV records."""

from __future__ import annotations

import sqlalchemy as sa

from qarion_pypi.db.columns import id_column as _id
from qarion_pypi.db.columns import metadata
from qarion_pypi.db.columns import reference as _fk
from qarion_pypi.db.columns import timestamp as _time

# A repository's vulnerability scan policy; no row means the defaults (scanning off).
scan_policies = sa.Table(
    "scan_policies",
    metadata,
    _fk("repository_id", "repositories.id"),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("target_python_version", sa.String(16), nullable=True),
    sa.Column("target_platform", sa.String(100), nullable=True),
    sa.Column("include_public_index", sa.Boolean, nullable=False),
    sa.Column("public_index_url", sa.String(1000), nullable=True),
    sa.Column("extra_index_urls", sa.JSON, nullable=False),
    sa.Column("enforcement_mode", sa.String(32), nullable=False),
    sa.Column("severity_threshold", sa.String(16), nullable=False),
    sa.Column("block_pending", sa.Boolean, nullable=False),
    sa.Column("block_failed", sa.Boolean, nullable=False),
    _time("updated_at"),
    _fk("updated_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("repository_id"),
)

# Every scan of a file; the newest is the file's current one.
file_scans = sa.Table(
    "file_scans",
    metadata,
    _id(),
    _fk("file_id", "files.id"),
    _fk("repository_id", "repositories.id"),
    sa.Column("job_id", sa.String(36), nullable=True),
    # upload, manual, repository or retry
    sa.Column("trigger", sa.String(16), nullable=False),
    # pending, running, completed, failed or skipped
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("targets", sa.JSON, nullable=True),
    sa.Column("dependency_count", sa.Integer, nullable=False, default=0),
    sa.Column("finding_count", sa.Integer, nullable=False, default=0),
    sa.Column("max_severity", sa.String(16), nullable=True),
    sa.Column("dependencies", sa.JSON, nullable=False, default=list),
    sa.Column("findings", sa.JSON, nullable=False, default=list),
    sa.Column("error_message", sa.Text, nullable=True),
    _fk("created_by_id", "users.id", nullable=True, ondelete="SET NULL"),
    _time("created_at"),
    _time("started_at", nullable=True),
    _time("finished_at", nullable=True),
)

# OSV records (``qarion-pypi osv import``) as JSON, and the packages each names (one indexed query).
osv_records = sa.Table(
    "osv_records",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("modified", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    _time("imported_at"),
)

osv_packages = sa.Table(
    "osv_packages",
    metadata,
    sa.Column("record_id", sa.Text, sa.ForeignKey("osv_records.id", ondelete="CASCADE"), nullable=False),
    sa.Column("normalized_name", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("normalized_name", "record_id"),
)

sa.Index("ix_file_scans_file", file_scans.c.file_id, file_scans.c.created_at)
sa.Index("ix_osv_packages_record", osv_packages.c.record_id)
