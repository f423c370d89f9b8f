"""What every service needs, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field

from qarion_pypi.auth.sealing import Sealer
from qarion_pypi.auth.usage import KeyUsage
from qarion_pypi.config import Settings
from qarion_pypi.db import Database
from qarion_pypi.db.memo import Memo
from qarion_pypi.inflight import InFlight
from qarion_pypi.jobs.queue import JobQueue
from qarion_pypi.observe.metrics import Metrics
from qarion_pypi.oidc.keys import IssuerKeys
from qarion_pypi.simple.cache import PageCache
from qarion_pypi.storage import BlobStore
from qarion_pypi.upstream.http import Outbound


@dataclass
class Context:
    settings: Settings
    db: Database
    blobs: BlobStore
    pages: PageCache
    # Hot-path access resolutions (who is calling, which repository, what may they do).
    memo: Memo
    http: Outbound
    # Seals secrets at rest (upstream passwords).
    sealer: Sealer
    # Set by the composition root once the job handlers, which take this context, exist.
    jobs: JobQueue = field(init=False)
    # Last use of each API key, noted per request and written in batches (auth/usage.py).
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    # OIDC issuers' signing keys, cached (trusted publishing).
    issuer_keys: IssuerKeys = field(init=False)
    # Prometheus metrics (observe/metrics.py), counted whether or not /metrics is served.
    metrics: Metrics = field(default_factory=Metrics)
    # Proxied files this process is keeping after their first client got them (by file id).
    keeping: InFlight = field(default_factory=InFlight)

    def __post_init__(self) -> None:
        self.issuer_keys = IssuerKeys(self.http.anonymous())
