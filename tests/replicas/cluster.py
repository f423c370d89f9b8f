"""Several ``qarion-pypi serve`` processes on one PostgreSQL schema, one bucket prefix and one
Redis queue: replicas behind one URL, as a deployment runs them. Each replica has a data dir of
its own (its staging files); everything else is shared."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.backends import StateReader, settings_for
from tests.support.harness import LiveServer, Repo, new_admin_key, spawn_server, wait_until_serving


@dataclass
class Cluster:
    root: Path
    settings: dict[str, Any]
    admin_key: str
    replicas: list[LiveServer] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def shared(self) -> Path:
        """The data dir the shared state is named after (``cli(..., "--data-dir", shared)``)."""
        return self.root / "shared"

    @property
    def state(self) -> StateReader:
        return StateReader(self.shared)

    def start(self, index: int, *, wait: bool = True) -> LiveServer:
        server = spawn_server(self.root / f"replica{index}", self.admin_key, **self.settings)
        self._stack.callback(server.stop)
        if index < len(self.replicas):
            self.replicas[index] = server
        else:
            self.replicas.append(server)
        if wait:
            wait_until_serving(server)
        return server

    def restart(self, index: int) -> LiveServer:
        """Stop a replica (SIGTERM, as an orchestrator does) and start it again."""
        self.replicas[index].stop()
        return self.start(index)

    def on(self, repo: Repo, index: int) -> Repo:
        """The same repository, reached through another replica."""
        return Repo(self.replicas[index], repo.space, repo.slug, repo.id, repo.keys)


@contextmanager
def cluster(root: Path, settings: dict[str, Any] | None = None, count: int = 2) -> Iterator[Cluster]:
    """``count`` replicas with these settings, started at the same moment (then each waited for)."""
    shared = {**settings_for(root / "shared"), **(settings or {})}
    running = Cluster(root, shared, new_admin_key())
    with running._stack:
        for index in range(count):
            running.start(index, wait=False)
        for server in running.replicas:
            wait_until_serving(server)
        yield running
