"""The server's Prometheus metrics, in a registry of their own per app (several apps in one
process, as the tests run them, never mix their counts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _PageCacheLookups(Collector):
    """The page cache's own hit and miss counts (plain integers it keeps), read at scrape time."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily("qarion_page_cache", "Simple page cache lookups", labels=["outcome"])
        hits, misses = self._counts()
        family.add_metric(["hit"], float(hits))
        family.add_metric(["miss"], float(misses))
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("qarion_http_requests", "HTTP requests by route template, method and status",
                                ["route", "method", "status"], registry=r)  # fmt: skip
        self.latency = Histogram("qarion_http_request_duration_seconds", "Time to answer a request, by route template",
                                 ["route", "method"], buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.uploads = Counter("qarion_uploads", "Distribution files accepted by uploads", registry=r)
        self.upload_bytes = Counter("qarion_upload_bytes", "Bytes of the files accepted by uploads", registry=r)
        self.downloads = Counter("qarion_downloads", "Files and core metadata served", ["kind"], registry=r)
        self.download_bytes = Counter("qarion_download_bytes", "Bytes of files served from this server", registry=r)
        self.proxy_files = Counter("qarion_proxy_files", "Proxied file requests: cache hit or miss",
                                   ["outcome"], registry=r)  # fmt: skip
        self.upstream_errors = Counter("qarion_upstream_errors", "Upstream requests of proxies that failed",
                                       registry=r)  # fmt: skip
        self.jobs = Gauge("qarion_jobs", "Jobs by kind and status (read from the database)", ["kind", "status"],
                          registry=r)  # fmt: skip
        self.pool_waits = Histogram("qarion_db_pool_wait_seconds",
                                    "Time requests waited for a database connection (SQLite: or their turn to write)",
                                    buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip

    def watch_page_cache(self, counts: Callable[[], tuple[int, int]]) -> None:
        """``counts``: the page cache's (hits, misses) so far."""
        self.registry.register(_PageCacheLookups(counts))

    def set_jobs(self, counts: Iterable[tuple[str, str, int]]) -> None:
        self.jobs.clear()
        for kind, status, count in counts:
            self.jobs.labels(kind, status).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
