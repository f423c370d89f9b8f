"""The server's Prometheus metrics, in a registry of their own per app (several apps in one
process, as the tests run them, never mix their counts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Hits(Collector):
    """Counters kept as plain integers by their owners (the page cache), read at scrape time."""

    def __init__(self, name: str, documentation: str, read: Mapping[str, object]) -> None:
        self._name, self._documentation, self._read = name, documentation, read

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=["outcome"])
        for outcome, value in self._read.items():
            family.add_metric([outcome], float(value() if callable(value) else 0))
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
        self.pool_waits = Histogram("qarion_db_pool_wait_seconds", "Time requests waited for a database connection",
                                    buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip

    def watch_page_cache(self, hits: object, misses: object) -> None:
        """``hits`` and ``misses``: callables returning the page cache's counts."""
        self.registry.register(_Hits("qarion_page_cache", "Simple page cache lookups", {"hit": hits, "miss": misses}))

    def set_jobs(self, counts: Iterable[tuple[str, str, int]]) -> None:
        self.jobs.clear()
        for kind, status, count in counts:
            self.jobs.labels(kind, status).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
