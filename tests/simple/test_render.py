"""The one structure rendered as PEP 503 HTML and PEP 691 JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from qarion_pypi.simple import render
from qarion_pypi.simple.model import FileEntry, ProjectEntry, ProjectList, ProjectPage

UPLOADED = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
PAGE = ProjectPage(
    name="Demo_Pkg",
    normalized_name="demo-pkg",
    versions=["1.0", "2.0"],
    files=[
        FileEntry("demo_pkg-1.0.tar.gz", "/f/1/demo_pkg-1.0.tar.gz", "a" * 64, 10, UPLOADED, ">=3.8,<4", False, False),
        FileEntry(
            "demo_pkg-2.0-py3-none-any.whl", "/f/2/w.whl", "b" * 64, 20, UPLOADED, None, "broken <build>", "c" * 64
        ),
        FileEntry("demo_pkg-2.0.tar.gz", "/f/3/s.tar.gz", "d" * 64, 30, None, None, "", False),
    ],
)


def test_project_page_html() -> None:
    html = render.project_page_html(PAGE).decode()
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert '<a href="/f/1/demo_pkg-1.0.tar.gz#sha256=' + "a" * 64 + '" data-requires-python="&gt;=3.8,&lt;4">' in html
    assert 'data-yanked="broken &lt;build&gt;"' in html
    assert f'data-core-metadata="sha256={"c" * 64}" data-dist-info-metadata="sha256={"c" * 64}"' in html
    assert 'data-yanked=""' in html  # yanked without a reason is still yanked (PEP 592)
    assert html.count("<a ") == 3


def test_project_page_json() -> None:
    document = json.loads(render.project_page_json(PAGE))
    assert document["meta"] == {"api-version": "1.4"}
    assert document["name"] == "demo-pkg"
    assert document["versions"] == ["1.0", "2.0"]
    first, second, third = document["files"]
    assert first["requires-python"] == ">=3.8,<4"
    assert first["yanked"] is False
    assert first["upload-time"] == "2026-01-02T03:04:05.678000Z"
    assert first["core-metadata"] is False and first["dist-info-metadata"] is False
    assert second["yanked"] == "broken <build>"
    assert second["core-metadata"] == {"sha256": "c" * 64} == second["dist-info-metadata"]
    assert third["yanked"] == "" and "upload-time" not in third
    assert [f["size"] for f in document["files"]] == [10, 20, 30]


def test_project_list() -> None:
    page = ProjectList([ProjectEntry("Demo_Pkg", "demo-pkg"), ProjectEntry("a<b", "a-b")])
    assert '<a href="demo-pkg/">Demo_Pkg</a>' in render.project_list_html(page).decode()
    assert "a&lt;b" in render.project_list_html(page).decode()
    document = json.loads(render.project_list_json(page))
    assert document == {"meta": {"api-version": "1.4"}, "projects": [{"name": "Demo_Pkg"}, {"name": "a<b"}]}
