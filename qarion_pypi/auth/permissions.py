"""The one permission function: what may a principal do in a space or repository?

Space roles map to package permissions (DESIGN.md): viewer -> view, member -> publish,
editor -> edit, admin -> admin. Platform admins and space admins hold admin everywhere in the space.
"""

from __future__ import annotations

from enum import IntEnum

import sqlalchemy as sa

from qarion_pypi.auth.principal import Principal
from qarion_pypi.db import Database, Row
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


async def space_role(db: Database, principal: Principal, space_id: str) -> str | None:
    role = await db.fetch_val(
        sa.select(t.space_members.c.role).where(
            t.space_members.c.space_id == space_id, t.space_members.c.user_id == principal.user_id
        )
    )
    return None if role is None else str(role)


async def effective_permission(
    db: Database, principal: Principal | None, space_id: str, repository: Row | None = None
) -> Permission:
    """The highest permission that applies to ``principal`` in the space (and repository)."""
    if principal is None:
        return Permission.NONE
    if principal.is_admin:
        return Permission.ADMIN
    role = await space_role(db, principal, space_id)
    return ROLE_PERMISSIONS.get(role, Permission.NONE) if role else Permission.NONE


def require(held: Permission, needed: Permission, action: str, what: str) -> None:
    """Raise NotFound when the caller cannot even see ``what``, Forbidden when it lacks ``action``."""
    if held < Permission.VIEW:
        raise NotFound(f"{what} not found")
    if held < needed:
        raise Forbidden(f"You lack {action} access to {what}.")
