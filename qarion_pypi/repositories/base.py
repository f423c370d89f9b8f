from __future__ import annotations

from typing import Protocol

from qarion_pypi.simple.model import ProjectList, ProjectPage


class SimpleSource(Protocol):
    """What the Simple API needs from a repository, whatever its kind.

    Hosted repositories answer from the database; proxy and virtual repositories will wrap or
    combine sources behind the same two calls (the simple-repository model in DESIGN.md).
    """

    async def project_list(self) -> ProjectList: ...

    async def project_page(self, normalized_name: str) -> ProjectPage | None:
        """None when the repository has no such project."""
