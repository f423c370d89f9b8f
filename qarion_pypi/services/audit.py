"""The audit log: who did what to which resource, when, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Forbidden, NotFound
from qarion_pypi.jobs.queue import JobRecord

MAX_LIMIT = 1000
_DENIED = {401, 403, 404}


@dataclass(frozen=True)
class Event:
    action: str
    resource_type: str
    resource_id: str | None
    space: str | None
    status: int
    detail: str = ""
    # What people call the resource (a repository's slug, a filename, a username): ``q`` finds it.
    resource_name: str = ""

    @property
    def outcome(self) -> str:
        if self.status < 400:
            return "success"
        return "denied" if self.status in _DENIED else "failed"


async def record(ctx: Context, actor: Principal | None, event: Event) -> None:
    row = {
        "id": new_id(),
        "occurred_at": utcnow(),
        "actor_id": actor.user_id if actor else None,
        "actor": actor.username if actor else None,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "resource_name": event.resource_name[:255] or None,
        "space": event.space,
        "outcome": event.outcome,
        "status": event.status,
        "detail": event.detail[:2000],
    }
    async with ctx.db.transaction():  # a writer's turn like any other (SQLite: no thread hop)
        await ctx.db.insert(t.audit_events, row)


@dataclass(frozen=True)
class Query:
    spaces: list[str] | None  # None: every space (platform admins); otherwise only these
    resource_type: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


async def readable_spaces(ctx: Context, caller: Principal, space: str | None) -> list[str] | None:
    """The spaces whose events ``caller`` may read (None: all of them), narrowed to ``space``.

    Platform admins read everything; space admins their own spaces; anyone else nothing (403).
    Naming a space one does not administer is a 404, as if it did not exist."""
    readable = None if caller.is_admin else await admin_spaces(ctx, caller)
    if readable is not None and not readable:
        raise Forbidden("You lack admin access to any space's audit log.")
    if space is None:
        return readable
    if readable is not None and space not in readable:
        raise NotFound(f"Space {space!r} not found.")
    return [space]


async def search(ctx: Context, query: Query) -> list[Row]:
    """Newest first. ``text`` matches the action, actor, space, resource id and name, and detail."""
    events = t.audit_events
    statement = sa.select(events).order_by(events.c.occurred_at.desc()).limit(min(query.limit, MAX_LIMIT))
    if query.spaces is not None:
        statement = statement.where(events.c.space.in_(query.spaces))
    if query.resource_type:
        statement = statement.where(events.c.resource_type == query.resource_type)
    if query.since:
        statement = statement.where(events.c.occurred_at >= query.since)
    if query.until:
        statement = statement.where(events.c.occurred_at < query.until)
    if query.text:
        needle = "%" + query.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        columns = (events.c.action, events.c.resource_id, events.c.resource_name, events.c.actor, events.c.detail,
                   events.c.space)  # fmt: skip
        statement = statement.where(sa.or_(*(sa.func.lower(c).like(needle, escape="\\") for c in columns)))
    return await ctx.db.fetch_all(statement)


async def admin_spaces(ctx: Context, principal: Principal) -> list[str]:
    """Slugs of the spaces the principal administers."""
    rows = await ctx.db.fetch_all(
        sa.select(t.spaces.c.slug)
        .join(t.space_members, t.space_members.c.space_id == t.spaces.c.id)
        .where(t.space_members.c.user_id == principal.user_id, t.space_members.c.role == "admin")
    )
    return [row["slug"] for row in rows]


async def recent_jobs(ctx: Context, spaces: list[str] | None, limit: int = 50) -> list[tuple[JobRecord, Row]]:
    """The newest jobs of these spaces' repositories (None: every job), each with its repository's
    and space's slugs."""
    statement = (
        sa.select(t.jobs, t.repositories.c.slug.label("repository_slug"), t.spaces.c.slug.label("space_slug"))
        .outerjoin(t.repositories, t.repositories.c.id == t.jobs.c.repository_id)
        .outerjoin(t.spaces, t.spaces.c.id == t.repositories.c.space_id)
        .order_by(t.jobs.c.created_at.desc(), t.jobs.c.id)
        .limit(limit)
    )
    if spaces is not None:
        statement = statement.where(t.spaces.c.slug.in_(spaces))
    return [(JobRecord.from_row(row), row) for row in await ctx.db.fetch_all(statement)]
