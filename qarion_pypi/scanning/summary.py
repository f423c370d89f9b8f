"""A repository's ``security_summary``: its files counted by scan state, severity and blocking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.osv.severity import LEVELS
from qarion_pypi.scanning.policy import ScanPolicy, enforcement_of, policies

STATUSES = ("not_scanned", "pending", "running", "completed", "failed", "skipped")


@dataclass(frozen=True)
class Security:
    policy: ScanPolicy
    summary: dict[str, Any]


async def security(ctx: Context, repository_ids: list[str]) -> dict[str, Security]:
    """The policy and summary of each repository, in two queries whatever their number."""
    found = await policies(ctx, repository_ids)
    summaries = {repository_id: _empty(enforcement_of(ctx, policy).active) for repository_id, policy in found.items()}
    state = (t.files.c.repository_id, t.files.c.scan_status, t.files.c.scan_max_severity)
    query = sa.select(*state, sa.func.count().label("files")).where(t.files.c.repository_id.in_(repository_ids))
    rows = await ctx.db.fetch_all(query.group_by(*state)) if repository_ids else []
    for row in rows:
        repository_id, status, severity, count = (
            row["repository_id"],
            row["scan_status"],
            row["scan_max_severity"],
            row["files"],
        )
        summary = summaries[repository_id]
        summary["files_total"] += count
        summary["by_status"][status] = summary["by_status"].get(status, 0) + count
        if status == "completed":
            summary["by_severity"]["none" if severity is None else severity] += count
        if enforcement_of(ctx, found[repository_id]).reason(status, severity):
            summary["blocked_files"] += count
    return {repository_id: Security(found[repository_id], summaries[repository_id]) for repository_id in found}


def _empty(active: bool) -> dict[str, Any]:
    return {
        "scanning_active": active,
        "files_total": 0,
        "by_status": dict.fromkeys(STATUSES, 0),
        # files by their latest completed scan's highest severity ("none": no rated finding)
        "by_severity": dict.fromkeys((*LEVELS, "none"), 0),
        "blocked_files": 0,
    }
