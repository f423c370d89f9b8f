"""How long callers waited for a pooled database connection, told to whoever watches (metrics)."""

from __future__ import annotations

import time
from collections.abc import Callable


class PoolWaits:
    def __init__(self) -> None:
        self.observe: Callable[[float], None] | None = None

    def since(self, started: float) -> None:
        """Report a wait that began at ``time.perf_counter()`` value ``started``."""
        if self.observe is not None:
            self.observe(time.perf_counter() - started)
