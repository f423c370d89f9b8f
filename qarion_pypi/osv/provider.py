"""The OSV provider a scan asks: imported records, plus the OSV query API when one is configured.

Records from either source go through the same parser and the same matcher. Findings for one
(package, version) are merged across aliases: records that name each other (a PYSEC and a GHSA
advisory for one CVE, say) become one finding with every identifier, the highest severity and
every fixed version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qarion_pypi.db import Database
from qarion_pypi.osv import store
from qarion_pypi.osv.matching import affects, fixed_versions
from qarion_pypi.osv.records import ECOSYSTEM, Affected, InvalidRecord, Record, parse_record
from qarion_pypi.osv.severity import Severity, rank, severity_of
from qarion_pypi.upstream.http import AuthedClient, UpstreamError

MAX_API_PAGES = 10
MAX_API_ANSWER = 32 * 1024 * 1024


class ProviderError(Exception):
    """The vulnerability data could not be read (the online API failed or answered nonsense)."""


@dataclass(frozen=True)
class Match:
    record: Record
    entries: tuple[Affected, ...]


class OsvProvider:
    def __init__(self, db: Database, client: AuthedClient | None = None, api_url: str = "") -> None:
        self._db = db
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    async def findings(self, name: str, version: str) -> list[dict[str, Any]]:
        """Merged findings for one release (cached for the provider's lifetime: one scan job)."""
        key = (name, version)
        if key not in self._cache:
            self._cache[key] = merge_findings(await self.matches(name, version), name, version)
        return self._cache[key]

    async def matches(self, name: str, version: str) -> list[Match]:
        records = {r.id: r for r in await store.for_package(self._db, name)}
        if self._api_url and self._client is not None:
            for record in await self._query_api(name, version):
                records.setdefault(record.id, record)
        found = []
        for record in records.values():
            entries = affects(record, name, version)
            if entries:
                found.append(Match(record, tuple(entries)))
        return found

    async def _query_api(self, name: str, version: str) -> list[Record]:
        assert self._client is not None
        body: dict[str, Any] = {"package": {"name": name, "ecosystem": ECOSYSTEM}, "version": version}
        records: list[Record] = []
        for _ in range(MAX_API_PAGES):
            try:
                reply = await self._client.fetch(self._api_url + "/query", json=body, max_bytes=MAX_API_ANSWER)
            except UpstreamError as exc:
                raise ProviderError(f"the OSV API could not be reached ({exc})") from None
            if reply.status != 200:
                raise ProviderError(f"the OSV API answered {reply.status}")
            try:
                document = json.loads(reply.body)
                page = [parse_record(item) for item in document.get("vulns") or []]
            except (ValueError, AttributeError) as exc:
                detail = str(exc) if isinstance(exc, InvalidRecord) else "not a JSON object"
                raise ProviderError(f"the OSV API answered an unusable document: {detail}") from None
            records += [r for r in page if r is not None]
            token = document.get("next_page_token")
            if not token or not isinstance(token, str):
                return records
            body = {**body, "page_token": token}
        raise ProviderError(f"the OSV API paged past {MAX_API_PAGES} pages for {name} {version}")


def merge_findings(matches: Sequence[Match], name: str, version: str) -> list[dict[str, Any]]:
    """One finding per group of records linked by id or alias, most severe first."""
    groups: list[list[Match]] = []
    names: list[set[str]] = []
    for match in matches:
        ids = {match.record.id, *match.record.aliases}
        joined = [i for i, known in enumerate(names) if known & ids]
        group, merged = [match], set(ids)
        for index in reversed(joined):
            group += groups.pop(index)
            merged |= names.pop(index)
        groups.append(group)
        names.append(merged)
    findings = [_finding(group, known, name, version) for group, known in zip(groups, names, strict=True)]
    return sorted(findings, key=lambda f: (-rank(f["severity"]), f["id"]))


def _finding(group: list[Match], ids: set[str], name: str, version: str) -> dict[str, Any]:
    group = sorted(group, key=lambda m: _preference(m.record.id))
    severity = max((severity_of(m.record, m.entries) for m in group), key=_severity_order)
    primary = group[0].record.id
    return {
        "id": primary,
        "aliases": sorted(ids - {primary}),
        "summary": next((m.record.summary for m in group if m.record.summary), ""),
        "severity": severity.level,
        "cvss_score": severity.score,
        "severity_source": severity.source,
        "package": name,
        "version": version,
        "fixed_versions": fixed_versions([e for m in group for e in m.entries], version),
    }


def _preference(record_id: str) -> tuple[int, str]:
    """Advisory ids of the ecosystem first (PYSEC, then GHSA, ...), CVE numbers last."""
    order = ("PYSEC-", "GHSA-", "OSV-")
    position = next((i for i, prefix in enumerate(order) if record_id.startswith(prefix)), len(order))
    return (len(order) + 1 if record_id.startswith("CVE-") else position, record_id)


def _severity_order(severity: Severity) -> tuple[int, float]:
    return (rank(severity.level), severity.score or 0.0)
