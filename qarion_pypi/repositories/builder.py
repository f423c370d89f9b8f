"""The one place a repository's client-facing graph is composed from its record.

Each kind has its implementation; a virtual repository gets its members built the same way.
Every repository then passes through the wrappers the composition root registered (scan
blocking today), in order, each free to return it unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from qarion_pypi.context import Context
from qarion_pypi.repositories import records
from qarion_pypi.repositories.base import Repository
from qarion_pypi.repositories.hosted import HostedRepository
from qarion_pypi.repositories.proxy import ProxyRepository
from qarion_pypi.repositories.records import RepositoryKind, RepositoryRecord
from qarion_pypi.repositories.virtual import VirtualRepository

Wrapper = Callable[[Context, Repository], Awaitable[Repository]]


class RepositoryBuilder:
    def __init__(self, ctx: Context, wrappers: Sequence[Wrapper] = ()) -> None:
        self._ctx = ctx
        self._wrappers = tuple(wrappers)

    async def build(self, record: RepositoryRecord, site: str) -> Repository:
        """``site``: the absolute or root-relative URL of ``/api/v1.0`` as clients reach it."""
        repository: Repository
        if record.kind is RepositoryKind.HOSTED:
            repository = HostedRepository(self._ctx, record)
        elif record.kind is RepositoryKind.PROXY:
            repository = ProxyRepository(self._ctx, record)
        else:
            members = [await self.build(member, site) for member in await records.members(self._ctx.db, record)]
            repository = VirtualRepository(record, members, site=site)
        for wrap in self._wrappers:
            repository = await wrap(self._ctx, repository)
        return repository
