"""Choosing the Simple API source for a repository by its kind, with this server's URLs."""

from __future__ import annotations

from qarion_pypi.api import urls
from qarion_pypi.context import Context
from qarion_pypi.db import Row
from qarion_pypi.repositories.base import SimpleSource
from qarion_pypi.repositories.hosted import HostedSource
from qarion_pypi.repositories.proxy import ProxySource
from qarion_pypi.repositories.virtual import VirtualSource
from qarion_pypi.scanning import policy
from qarion_pypi.services import repositories


async def source_for(ctx: Context, repository: Row, prefix: str) -> SimpleSource:
    if repository["kind"] == "proxy":
        return ProxySource(ctx, repository, lambda fid, name: urls.remote_download(prefix, fid, name))
    if repository["kind"] == "virtual":
        members = []
        for member in await repositories.members(ctx, repository):
            index = urls.simple_index(prefix, member["space_slug"], member["slug"], member["project_scope_slug"])
            members.append((await source_for(ctx, member, prefix), index))
        return VirtualSource(members, merge=repository["merge"])
    enforcement = await policy.enforcement(ctx, repository["id"])
    return HostedSource(ctx.db, repository, lambda fid, name: urls.download(prefix, fid, name), enforcement)
