"""The one permission function: what may a principal do in a space, scope or repository?

Space roles map to package permissions (DESIGN.md): viewer -> view, member -> publish,
editor -> edit, admin -> admin. Platform admins and space admins hold admin everywhere in the
space. Inside a project scope, plain space members get what the scope's
``space_member_access_level`` says (``role_based`` keeps the mapping above, ``none`` gives nothing),
and direct grants to the user or to any of the user's teams add to it: the highest level wins.
Robots hold roles and grants as users do.

A key's limits then cap what its owner holds: scopes (``read`` is view, ``publish`` is publish),
and a list of repositories (it reaches nothing else: no other repository, no space-wide call).
A minted upload token may only publish to the repositories its trusted publishers belong to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TypeVar

import sqlalchemy as sa

from qarion_pypi.auth.principal import PUBLISHER, Principal
from qarion_pypi.db import Database
from qarion_pypi.db import tables as t
from qarion_pypi.errors import Forbidden, NotFound


class Permission(IntEnum):
    NONE = 0
    VIEW = 1
    PUBLISH = 2
    EDIT = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    def granted(self) -> list[str]:
        """Every permission this one includes, lowest first (``effective_permissions``)."""
        return [p.label for p in Permission if Permission.NONE < p <= self]


ROLE_PERMISSIONS: dict[str, Permission] = {
    "viewer": Permission.VIEW,
    "member": Permission.PUBLISH,
    "editor": Permission.EDIT,
    "admin": Permission.ADMIN,
}
GRANT_LEVELS: dict[str, Permission] = {p.label: p for p in Permission if p is not Permission.NONE}
SPACE_MEMBER_LEVELS = ("role_based", "none", "view", "publish", "edit")
T = TypeVar("T")


async def space_role(db: Database, principal: Principal, space_id: str) -> str | None:
    role = await db.fetch_val(
        sa.select(t.space_members.c.role).where(
            t.space_members.c.space_id == space_id, t.space_members.c.user_id == principal.user_id
        ),
        quick=True,
    )
    return None if role is None else str(role)


async def effective_permission(
    db: Database,
    principal: Principal | None,
    space_id: str,
    project_scope_id: str | None = None,
    repository_id: str | None = None,
) -> Permission:
    """The highest permission that applies to ``principal`` in the space, in one of its scopes,
    or (with ``repository_id``) on one repository."""
    if principal is None:
        return Permission.NONE
    if principal.user_id is None:  # anonymous, or a minted token
        reaches = principal.kind == PUBLISHER and repository_id in (principal.repository_ids or ())
        return Permission.PUBLISH if reaches else Permission.NONE
    return _limited(principal, await _held(db, principal, space_id, project_scope_id), repository_id)


async def _held(db: Database, principal: Principal, space_id: str, project_scope_id: str | None) -> Permission:
    """What the principal's owner holds, before the key's limits."""
    if principal.is_admin:
        return Permission.ADMIN
    role = await space_role(db, principal, space_id)
    if role == "admin":
        return Permission.ADMIN
    from_role = ROLE_PERMISSIONS.get(role, Permission.NONE) if role else Permission.NONE
    if project_scope_id is None:
        return from_role
    return await _scope_permission(db, principal, project_scope_id, role, from_role)


_SCOPE_LEVELS = {"read": Permission.VIEW, "publish": Permission.PUBLISH}


def _limited(principal: Principal, held: Permission, repository_id: str | None) -> Permission:
    if principal.repository_ids is not None and repository_id not in principal.repository_ids:
        return Permission.NONE
    if principal.scopes is not None:
        return min(held, max((_SCOPE_LEVELS[scope] for scope in principal.scopes), default=Permission.NONE))
    return held


async def _scope_permission(
    db: Database, principal: Principal, project_scope_id: str, role: str | None, from_role: Permission
) -> Permission:
    default = await db.fetch_val(
        sa.select(t.project_scopes.c.space_member_access_level).where(t.project_scopes.c.id == project_scope_id),
        quick=True,
    )
    levels = [Permission.NONE]
    if role is not None:
        levels.append(from_role if default == "role_based" else GRANT_LEVELS.get(default, Permission.NONE))
    my_teams = sa.select(t.team_members.c.team_id).where(t.team_members.c.user_id == principal.user_id)
    grants = await db.fetch_all(
        sa.select(t.project_scope_grants.c.access_level).where(
            t.project_scope_grants.c.project_scope_id == project_scope_id,
            sa.or_(
                sa.and_(
                    t.project_scope_grants.c.principal_type == "user",
                    t.project_scope_grants.c.principal_id == principal.user_id,
                ),
                sa.and_(
                    t.project_scope_grants.c.principal_type == "team",
                    t.project_scope_grants.c.principal_id.in_(my_teams),
                ),
            ),
        ),
        quick=True,  # one scope's grants
    )
    levels += [GRANT_LEVELS[row["access_level"]] for row in grants]
    return max(levels)


def require(held: Permission, needed: Permission, action: str, what: str) -> None:
    """Raise NotFound when the caller cannot even see ``what``, Forbidden when it lacks ``action``."""
    if held < Permission.VIEW:
        raise NotFound(f"{what.capitalize()} not found.")
    if held < needed:
        raise Forbidden(f"You lack {action} access to this {what}.")


async def visible_rows(
    db: Database, principal: Principal, space_id: str, rows: Sequence[T], scope_of: Callable[[T], str | None]
) -> list[tuple[T, Permission]]:
    """The rows of a space listing that the caller may view, each with the caller's permission.

    A grant on a project scope is enough to see that scope's rows without membership of the
    space; a caller who sees neither any row nor the space itself gets NotFound for the space."""
    held: dict[str | None, Permission] = {None: await effective_permission(db, principal, space_id)}
    visible = []
    for row in rows:
        scope_id = scope_of(row)
        if scope_id not in held:
            held[scope_id] = await effective_permission(db, principal, space_id, scope_id)
        if held[scope_id] >= Permission.VIEW:
            visible.append((row, held[scope_id]))
    if held[None] < Permission.VIEW and not visible:
        raise NotFound("Space not found.")
    return visible
