"""Release cooldown for proxy and virtual repositories, as a repository wrapper.

Supply-chain attacks on public registries have been live for hours to days; a cooldown keeps a
release out of builds until it is ``min_release_age`` old by its upstream upload time. A file
without an upload time is hidden too (fail closed) unless the repository opts out, and an allow
list of ``name==version`` lets a reviewed urgent fix through. Files hosted here (the hosted
members of a virtual repository) are never held back. Pages drop the files, downloads and
``.metadata`` find nothing, and such pages are never cached: what is visible moves with the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import is_uuid
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import FieldError
from qarion_pypi.repositories.base import Repository
from qarion_pypi.repositories.hiding import HidingFiles, file_version
from qarion_pypi.repositories.records import Cooldown, RepositoryKind
from qarion_pypi.simple.model import FileEntry, ProjectPage

FIELDS = ("min_release_age", "cooldown_allow", "cooldown_allow_undated")
_AGE = re.compile(r"^(\d{1,6})([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_AGE = 366 * 86400
MAX_ALLOW = 500


def _age(value: object) -> tuple[int | None, str | None]:
    """Seconds of a duration like ``"7d"``, ``"12h"`` or ``"0"`` (off); or the problem."""
    if value is None or value == "0":
        return 0, None
    match = _AGE.match(value) if isinstance(value, str) else None
    if match is None:
        return None, 'must be a duration such as "7d", "12h" or "30m" (or "0" or null for none)'
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    return (seconds, None) if seconds <= MAX_AGE else (None, "must be at most 366 days")


def _allowed(value: object) -> tuple[list[str], list[str]]:
    """Normalized ``name==version`` entries, and the problems of the others."""
    entries, problems = [], []
    for item in value if isinstance(value, list) else []:
        name, _, version = str(item).partition("==")
        try:
            entries.append(f"{canonicalize_name(name.strip(), validate=True)}=={Version(version.strip())}")
        except (InvalidVersion, ValueError):
            problems.append(f"{str(item)[:100]!r} is not name==version")
    if not isinstance(value, list) or len(entries) > MAX_ALLOW:
        problems.append(f"must be a list of at most {MAX_ALLOW} name==version entries")
    return entries, problems


def settings(fields: Mapping[str, Any], current: Cooldown | None) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The ``cooldown`` column for the fields given (merged into the current settings), or None
    when no cooldown field was given; and the problems."""
    if not any(name in fields for name in FIELDS):
        return None, []
    base = current or Cooldown()
    errors = []
    age, problem = _age(fields["min_release_age"]) if "min_release_age" in fields else (base.min_release_age, None)
    if problem:
        errors.append(FieldError("min_release_age", problem))
    allow = sorted(base.allow)
    if "cooldown_allow" in fields:
        allow, problems = _allowed(fields["cooldown_allow"])
        errors += [FieldError("cooldown_allow", p) for p in problems]
    undated = bool(fields.get("cooldown_allow_undated", base.allow_undated))
    return {"min_release_age": age or 0, "allow": allow, "allow_undated": undated}, errors


async def wrap(ctx: Context, repository: Repository) -> Repository:
    cooldown = repository.record.cooldown
    if repository.record.kind is RepositoryKind.HOSTED or cooldown is None:
        return repository
    return CooldownRepository(ctx, repository, cooldown)


class CooldownRepository(HidingFiles):
    def __init__(self, ctx: Context, inner: Repository, cooldown: Cooldown) -> None:
        super().__init__(inner)
        self._ctx = ctx
        self._cooldown = cooldown

    def cache_key(self) -> None:
        return None  # what is visible moves with the clock

    async def hidden(self, page: ProjectPage) -> set[str]:
        hosted = await self._hosted([entry.file_id for entry in page.files])
        cutoff = utcnow() - timedelta(seconds=self._cooldown.min_release_age)
        return {
            entry.file_id
            for entry in page.files
            if entry.file_id not in hosted and not self._visible(entry, page.normalized_name, cutoff)
        }

    def _visible(self, entry: FileEntry, name: str, cutoff: datetime) -> bool:
        version = file_version(entry)
        if version is None:
            return False
        if f"{name}=={version}" in self._cooldown.allow:
            return True
        if entry.upload_time is None:
            return self._cooldown.allow_undated
        return entry.upload_time <= cutoff

    async def _hosted(self, file_ids: list[str]) -> set[str]:
        """The ids of files hosted here (a virtual repository's hosted members): never held back."""
        ids = [i for i in file_ids if is_uuid(i)]
        if self.record.kind is RepositoryKind.PROXY or not ids:
            return set()
        rows = await self._ctx.db.fetch_all(sa.select(t.files.c.id).where(t.files.c.id.in_(ids)))
        return {row["id"] for row in rows}

    async def hides(self, file_id: str) -> bool:
        """A proxied file is judged on its project's page: the upload time lives there."""
        if not is_uuid(file_id) or await self._hosted([file_id]):
            return False
        row = await self._ctx.db.fetch_one(
            sa.select(t.proxy_files.c.normalized_name).where(t.proxy_files.c.id == file_id)
        )
        if row is None:
            return False  # not a file of this repository: the inner one finds nothing either
        page = await self.project_page(canonicalize_name(row["normalized_name"]))
        return page is None or all(entry.file_id != file_id for entry in page.files)
