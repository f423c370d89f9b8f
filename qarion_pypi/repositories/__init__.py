"""Repositories as package clients see them: records, kinds with their settings, and the one
read interface (project list, project page, file) with hosted, proxy and virtual implementations."""

from qarion_pypi.repositories.base import Repository, Resource
from qarion_pypi.repositories.records import FileRecord, RepositoryKind, RepositoryRecord

__all__ = ["FileRecord", "Repository", "RepositoryKind", "RepositoryRecord", "Resource"]
