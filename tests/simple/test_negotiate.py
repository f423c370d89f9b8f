"""PEP 691 content negotiation, as a table."""

from __future__ import annotations

import pytest

from qarion_pypi.simple.negotiate import HTML_V1, JSON_V1, TEXT_HTML, NotAcceptable, negotiate

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


@pytest.mark.parametrize(
    ("accept", "override", "expected"),
    [
        (None, None, TEXT_HTML),
        ("", None, TEXT_HTML),
        ("*/*", None, TEXT_HTML),
        ("text/*", None, TEXT_HTML),
        ("text/html", None, TEXT_HTML),
        (PIP_ACCEPT, None, JSON_V1),
        ("application/vnd.pypi.simple.v1+html", None, HTML_V1),
        ("application/vnd.pypi.simple.latest+json", None, JSON_V1),
        ("application/vnd.pypi.simple.latest+html", None, HTML_V1),
        ("application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.9", None, TEXT_HTML),
        ("application/*", None, HTML_V1),
        ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html", None, JSON_V1),
        ("text/html;q=0, */*;q=0.5", None, HTML_V1),
        ("application/vnd.pypi.simple.v1+json;q=abc, text/html", None, TEXT_HTML),
        ("text/html", "application/vnd.pypi.simple.v1+json", JSON_V1),
        (PIP_ACCEPT, "text/html", TEXT_HTML),
        (None, "application/vnd.pypi.simple.latest+html", HTML_V1),
    ],
)
def test_negotiation(accept: str | None, override: str | None, expected: str) -> None:
    assert negotiate(accept, override).media_type == expected


@pytest.mark.parametrize(
    ("accept", "override"),
    [
        ("application/json", None),
        ("application/vnd.pypi.simple.v2+json", None),
        ("text/html;q=0", None),
        ("image/png, application/xml", None),
        (None, "application/json"),
        (None, "xml"),
    ],
)
def test_not_acceptable(accept: str | None, override: str | None) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(accept, override)


def test_content_types() -> None:
    assert negotiate(PIP_ACCEPT).content_type == JSON_V1
    assert negotiate("text/html").content_type == "text/html; charset=utf-8"
