"""One read interface (project list, project page) for every kind of repository."""

from qarion_pypi.repositories.base import SimpleSource

__all__ = ["SimpleSource"]
