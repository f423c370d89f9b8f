"""Rendered pages keyed by repository serial: a changed repository never serves a stale page.

Keys carry the repository's serial, read from the database on every request, so replicas stay
correct without invalidation messages; old serials simply age out of the LRU.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class RenderedPage:
    body: bytes
    etag: str
    content_type: str


def make_page(body: bytes, content_type: str) -> RenderedPage:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return RenderedPage(body=body, etag=etag, content_type=content_type)


class PageCache:
    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._pages: OrderedDict[Hashable, RenderedPage] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> RenderedPage | None:
        page = self._pages.get(key)
        if page is None:
            self.misses += 1
        else:
            self.hits += 1
            self._pages.move_to_end(key)
        return page

    def put(self, key: Hashable, page: RenderedPage) -> None:
        if self._max <= 0:
            return
        self._pages[key] = page
        self._pages.move_to_end(key)
        while len(self._pages) > self._max:
            self._pages.popitem(last=False)
