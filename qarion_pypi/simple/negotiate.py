"""PEP 691 content negotiation: Accept with q-values, a ``format`` override, 406 otherwise."""

from __future__ import annotations

from dataclasses import dataclass

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
}
SUPPORTED = (JSON_V1, HTML_V1, TEXT_HTML)
# Among exact matches of equal weight the richer format wins; a bare wildcard means a browser,
# and the seed makes HTML the default.
_EXACT_PREFERENCE = {JSON_V1: 2, HTML_V1: 1, TEXT_HTML: 0}
_WILDCARD_PREFERENCE = {TEXT_HTML: 2, HTML_V1: 1, JSON_V1: 0}


@dataclass(frozen=True)
class Choice:
    media_type: str

    @property
    def is_json(self) -> bool:
        return self.media_type == JSON_V1

    @property
    def content_type(self) -> str:
        return self.media_type if self.is_json else f"{self.media_type}; charset=utf-8"


class NotAcceptable(Exception):
    pass


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((_ALIASES.get(media.lower(), media.lower()), quality))
    return ranges


def _weight(candidate: str, ranges: list[tuple[str, float]]) -> tuple[float, int] | None:
    """(q, specificity) of the most specific range matching ``candidate``, or None."""
    best: tuple[int, float] | None = None
    major = candidate.split("/")[0]
    for media, quality in ranges:
        if media == candidate:
            specificity = 2
        elif media == f"{major}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, quality)
    return None if best is None else (best[1], best[0])


def negotiate(accept: str | None, format_override: str | None = None) -> Choice:
    if format_override:
        # As people type it: an unencoded "+" in a query string arrives as a space.
        written = format_override.strip().lower().replace(" ", "+")
        media = _ALIASES.get(written, written)
        if media not in SUPPORTED:
            raise NotAcceptable(format_override)
        return Choice(media)
    if not accept or not accept.strip():
        return Choice(TEXT_HTML)
    ranges = _parse_accept(accept)
    scored = []
    for candidate in SUPPORTED:
        weight = _weight(candidate, ranges)
        if weight is None or weight[0] <= 0:
            continue
        quality, specificity = weight
        preference = (_EXACT_PREFERENCE if specificity == 2 else _WILDCARD_PREFERENCE)[candidate]
        scored.append((quality, specificity, preference, candidate))
    if not scored:
        raise NotAcceptable(accept)
    return Choice(max(scored)[3])
