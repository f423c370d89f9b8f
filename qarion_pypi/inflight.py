"""Work this process is finishing for a key right now, which a request for the same key waits for
(briefly) instead of doing the work again: a proxied file being kept after its first client has
it, so the next client finds it cached."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import anyio


class InFlight:
    def __init__(self) -> None:
        self._events: dict[Hashable, anyio.Event] = {}

    def begin(self, key: Hashable) -> Callable[[], None]:
        """Mark ``key`` as in flight; call the returned function (once or more) when done. While
        one is in flight for the key, a second ``begin`` adds nothing and its done does nothing."""
        if key in self._events:
            return lambda: None
        event = self._events[key] = anyio.Event()

        def done() -> None:
            if self._events.get(key) is event:
                del self._events[key]
            event.set()

        return done

    async def wait(self, key: Hashable, timeout: float) -> None:
        """Until the work for ``key`` is done, or ``timeout`` seconds: then the caller goes on."""
        event = self._events.get(key)
        if event is not None:
            with anyio.move_on_after(timeout):
                await event.wait()
