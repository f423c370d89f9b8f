"""Rows and views turned into the seed's JSON shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from qarion_pypi.auth.permissions import Permission
from qarion_pypi.auth.principal import publisher_name
from qarion_pypi.db import Row
from qarion_pypi.jobs.queue import JobRecord
from qarion_pypi.repositories.records import FileRecord, RepositoryRecord
from qarion_pypi.scanning.policy import Enforcement
from qarion_pypi.scanning.summary import Security
from qarion_pypi.services.catalog.packages import PackageView


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def audit_event(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "occurred_at": _time(row["occurred_at"]),
        "actor_id": row["actor_id"],
        "actor": row["actor"],
        "action": row["action"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "resource_name": row["resource_name"],
        "space": row["space"],
        "outcome": row["outcome"],
        "status": row["status"],
        "detail": row["detail"],
    }


def job(row: JobRecord) -> dict[str, Any]:
    """The status shape the seed gives import jobs, shared by every kind of job."""
    return {
        "job_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "percent": row.percent,
        "phase": row.phase,
        "message": row.message,
        "progress_events": row.progress_events,
        "result": row.result,
        "error_message": row.error_message,
        "created_at": _time(row.created_at),
        "started_at": _time(row.started_at),
        "finished_at": _time(row.finished_at),
    }


def retention_rule(row: Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "match_version_regex": row["match_version_regex"],
        "prereleases_only": row["prereleases_only"],
        "max_age_days": row["max_age_days"],
        "keep_latest": row["keep_latest"],
    }


def space(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "slug": row["slug"], "name": row["name"], "created_at": _time(row["created_at"])}


def user(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "is_admin": row["is_admin"],
        "is_active": row["is_active"],
        "created_at": _time(row["created_at"]),
    }


def robot(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["username"].removeprefix("sa$"),
        "username": row["username"],
        "role": row["role"],
        "is_active": row["is_active"],
        "created_at": _time(row["created_at"]),
    }


def api_key(row: Row, key: str | None = None) -> dict[str, Any]:
    document = {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": _time(row["created_at"]),
        "last_used_at": _time(row["last_used_at"]),
        "revoked_at": _time(row["revoked_at"]),
        "expires_at": _time(row["expires_at"]),
        "scopes": row["scopes"],
        "repository_ids": row["repository_ids"],
    }
    if key is not None:
        document["key"] = key
    return document


def team(row: Row, members: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "created_at": _time(row["created_at"]),
        "members": members,
    }


def project_scope(row: Row, permission: Permission) -> dict[str, Any]:
    return {
        "id": row["id"],
        "space_id": row["space_id"],
        "name": row["name"],
        "slug": row["slug"],
        "description": row["description"],
        "source_type": row["source_type"],
        "source_id": row["source_id"],
        "source_metadata": row["source_metadata"],
        "space_member_access_level": row["space_member_access_level"],
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
        "created_by_id": row["created_by_id"],
        "updated_by_id": row["updated_by_id"],
        "effective_permissions": permission.granted(),
    }


def scope_access(row: Row, grants: list[Row], permission: Permission) -> dict[str, Any]:
    return {
        "project_scope_id": row["id"],
        "space_member_access_level": row["space_member_access_level"],
        "grants": [
            {
                "principal_type": g["principal_type"],
                "principal_id": g["principal_id"],
                "principal_name": g["principal_name"],
                "access_level": g["access_level"],
            }
            for g in grants
        ],
        "effective_permissions": permission.granted(),
    }


def repository(
    row: RepositoryRecord,
    counts: tuple[int, int],
    permission: Permission,
    site: str,
    members: list[str] | None,
    security: Security,
) -> dict[str, Any]:
    """``site``: the absolute URL of ``/api/v1.0``, for the client URLs."""
    package_count, file_count = counts
    scope = {"id": row.project_scope_id, "slug": row.project_scope_slug, "name": row.project_scope_name}
    proxy, virtual = row.proxy, row.virtual
    return {
        "id": row.id,
        "space_id": row.space_id,
        "project_scope_id": row.project_scope_id,
        "project_scope": scope if row.project_scope_id else None,
        "kind": row.kind.value,
        "name": row.name,
        "slug": row.slug,
        "description": row.description,
        "is_active": row.is_active,
        "visibility": row.visibility,
        "require_attestations": row.require_attestations,
        "cooldown": row.cooldown.as_json() if row.cooldown else None,
        "archived_at": _time(row.archived_at),
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "created_by_id": row.created_by_id,
        "updated_by_id": row.updated_by_id,
        "package_count": package_count,
        "file_count": file_count,
        "simple_index_url": f"{site}{row.client_path}/simple/",
        "upload_url": f"{site}{row.client_path}/legacy/",
        "effective_permissions": permission.granted(),
        "remote_url": proxy.remote_url if proxy else None,
        "cache_ttl": proxy.cache_ttl if proxy else None,
        "file_mode": proxy.file_mode.value if proxy else None,
        "has_upstream_credentials": bool(proxy and proxy.upstream_username),
        "members": members if virtual else None,
        "merge": virtual.merge if virtual else False,
        "upload_target_id": virtual.upload_target_id if virtual else None,
        "scan_policy": security.policy.as_dict(),
        "security_summary": security.summary,
    }


def file(row: FileRecord, site: str, enforcement: Enforcement) -> dict[str, Any]:
    """A file as the management API shows it, blocked or not (blocking is for package clients)."""
    blocked_reason = enforcement.file_reason(row)
    return {
        "id": row.id,
        "repository_id": row.repository_id,
        "package_id": row.package_id,
        "filename": row.filename,
        "version": row.version,
        "distribution_type": row.distribution_type,
        "python_version": row.python_version,
        "requires_python": row.requires_python,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "md5": row.md5,
        "blake2_256": row.blake2_256,
        "core_metadata_sha256": row.metadata_sha256,
        "storage_backend": row.storage_backend,
        "yanked": row.yanked,
        "yanked_reason": row.yanked_reason,
        "yanked_at": _time(row.yanked_at),
        "scan_status": row.scan_status,
        "vulnerability_summary": {"finding_count": row.scan_finding_count, "max_severity": row.scan_max_severity},
        "is_blocked": blocked_reason is not None,
        "blocked_reason": blocked_reason,
        "uploaded_by_id": row.uploaded_by_id,
        "uploaded_by": row.uploaded_by or (publisher_name(row.publisher) if row.publisher else None),
        "uploaded_at": _time(row.created_at),
        "publisher": row.publisher,
        "attested_by": row.attested_by,
        "promoted_from": row.promoted_from,
        "source": row.source,
        "upstream_url": row.upstream_url,
        "upstream_upload_time": _time(row.upstream_upload_time),
        "upstream_sha256": row.upstream_sha256,
        "download_url": f"{site}/pypi/files/{row.id}/{quote(row.filename)}",
    }


def package(view: PackageView, site: str, enforcement: Enforcement) -> dict[str, Any]:
    """A package with its versions and files."""
    row = view.package
    return {
        "id": row["id"],
        "repository_id": row["repository_id"],
        "name": row["name"],
        "normalized_name": row["normalized_name"],
        "summary": view.summary,
        "latest_version": view.latest_version,
        "status": row["status"],
        "status_reason": row["status_reason"],
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
        "versions": view.versions,
        "file_count": len(view.files),
        "files": [file(f, site, enforcement) for f in view.files],
    }


def scan(row: Row, file: FileRecord, enforcement: Enforcement) -> dict[str, Any]:
    """A file's latest scan; ``blocked`` is the file's state now, under the policy in force now."""
    blocked_reason = enforcement.file_reason(file)
    return {
        "id": row["id"],
        "file_id": row["file_id"],
        "filename": file.filename,
        "repository_id": row["repository_id"],
        "job_id": row["job_id"],
        "trigger": row["trigger"],
        "status": row["status"],
        "targets": row["targets"],
        "enforcement": enforcement.as_dict(),
        "dependency_count": row["dependency_count"],
        "finding_count": row["finding_count"],
        "max_severity": row["max_severity"],
        "blocked": blocked_reason is not None,
        "blocked_reason": blocked_reason,
        "dependencies": row["dependencies"],
        "findings": row["findings"],
        "error_message": row["error_message"],
        "created_at": _time(row["created_at"]),
        "started_at": _time(row["started_at"]),
        "finished_at": _time(row["finished_at"]),
    }
