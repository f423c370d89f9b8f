"""The Simple API over HTTP: PEP 503/691/592/629/658/700/714 against a live server."""

from __future__ import annotations

import hashlib
import json

from tests.support import distbuilder as d
from tests.support.harness import Repo

JSON_V1 = "application/vnd.pypi.simple.v1+json"


def _publish(repo: Repo) -> None:
    meta = d.metadata("Demo_Pkg", "1.0", extra="Requires-Python: >=3.8,<4\n")
    assert repo.upload("demo_pkg-1.0-py3-none-any.whl", d.wheel("demo_pkg", "1.0", meta=meta)).status_code == 200
    assert (
        repo.upload("demo_pkg-2.0.tar.gz", d.sdist("demo_pkg", "2.0", meta=d.metadata("Demo_Pkg", "2.0"))).status_code
        == 200
    )


def test_root_index_html_and_json(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        html = http.get(repo.simple)
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        assert html.headers["vary"] == "Accept"
        assert '<a href="demo-pkg/">Demo_Pkg</a>' in html.text
        document = http.get(repo.simple, headers={"Accept": JSON_V1})
        assert document.headers["content-type"] == JSON_V1
        assert document.json() == {"meta": {"api-version": "1.4"}, "projects": [{"name": "Demo_Pkg"}]}


def test_project_page_json_fields(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        page = http.get(repo.simple + "demo-pkg/", params={"format": JSON_V1}).json()
    assert page["name"] == "demo-pkg"
    assert page["versions"] == ["1.0", "2.0"]
    wheel, sdist = page["files"]
    assert wheel["filename"] == "demo_pkg-1.0-py3-none-any.whl"
    assert wheel["requires-python"] == ">=3.8,<4"
    assert wheel["upload-time"].endswith("Z")
    assert wheel["size"] > 0 and wheel["yanked"] is False
    assert wheel["core-metadata"] == wheel["dist-info-metadata"]
    assert sdist["requires-python"] is None


def test_html_escapes_requires_python_and_links_metadata(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        html = http.get(repo.simple + "demo-pkg/").text
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in html
    assert "data-core-metadata=" in html and "data-dist-info-metadata=" in html


def test_core_metadata_is_served_with_its_hash(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        wheel = http.get(repo.simple + "demo-pkg/", headers={"Accept": JSON_V1}).json()["files"][0]
        metadata = http.get(wheel["url"] + ".metadata")
        assert metadata.status_code == 200
        assert hashlib.sha256(metadata.content).hexdigest() == wheel["core-metadata"]["sha256"]
        assert b"Requires-Python: >=3.8,<4" in metadata.content


def test_yanked_files_carry_their_reason(repo: Repo) -> None:
    _publish(repo)
    with repo.client() as api:
        file_id = api.get(f"{repo.manage}/packages/demo-pkg").json()["files"][0]["id"]
        yanked = api.patch(
            f"/spaces/{repo.space}/package-repositories/files/{file_id}/yank",
            json={"yanked": True, "reason": "Broken <build>"},
        )
        assert yanked.json()["yanked_reason"] == "Broken <build>"
    with repo.raw() as http:
        page = http.get(repo.simple + "demo-pkg/", headers={"Accept": JSON_V1}).json()
        assert page["files"][0]["yanked"] == "Broken <build>"
        assert 'data-yanked="Broken &lt;build&gt;"' in http.get(repo.simple + "demo-pkg/").text
    with repo.client() as api:
        api.patch(f"/spaces/{repo.space}/package-repositories/files/{file_id}/yank", json={"yanked": False})
    with repo.raw() as http:
        assert http.get(repo.simple + "demo-pkg/", headers={"Accept": JSON_V1}).json()["files"][0]["yanked"] is False


def test_non_normalized_names_redirect(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        response = http.get(repo.simple + "Demo_Pkg/?format=text/html", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == repo.simple + "demo-pkg/?format=text/html"


def test_etag_and_304_change_with_contents(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        first = http.get(repo.simple + "demo-pkg/")
        etag = first.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        again = http.get(repo.simple + "demo-pkg/", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other_format = http.get(repo.simple + "demo-pkg/", headers={"Accept": JSON_V1, "If-None-Match": etag})
        assert other_format.status_code == 200
    assert repo.upload("demo_pkg-3.0-py3-none-any.whl", d.wheel("demo_pkg", "3.0")).status_code == 200
    with repo.raw() as http:
        changed = http.get(repo.simple + "demo-pkg/", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and "demo_pkg-3.0" in changed.text


def test_406_when_nothing_fits(repo: Repo) -> None:
    with repo.raw() as http:
        response = http.get(repo.simple, headers={"Accept": "application/json"})
        assert response.status_code == 406
        assert JSON_V1 in response.text
        assert http.get(repo.simple, params={"format": "application/xml"}).status_code == 406


def test_missing_project_is_404(repo: Repo) -> None:
    with repo.raw() as http:
        assert http.get(repo.simple + "nothing-here/").status_code == 404


def test_empty_index_is_valid_json(repo: Repo) -> None:
    with repo.raw() as http:
        assert json.loads(http.get(repo.simple, headers={"Accept": JSON_V1}).content)["projects"] == []


def _sdist(name: str, metadata_version: str, extra: str) -> bytes:
    return d.sdist(name, "1.0", meta=d.metadata(name, "1.0", metadata_version=metadata_version, extra=extra))


def test_an_sdist_s_metadata_is_offered_only_when_pep_643_makes_it_true(repo: Repo) -> None:
    sdists = {
        "legacy": _sdist("legacy", "2.1", ""),  # dependencies only in setup.py
        "dynamic": _sdist("dynamic", "2.2", "Dynamic: Requires-Dist\n"),
        "static": _sdist("static", "2.2", "Requires-Dist: lib>=1\n"),
    }
    for name, content in sdists.items():
        assert repo.upload(f"{name}-1.0.tar.gz", content).status_code == 200
    with repo.raw("viewer") as http:
        for name in sdists:
            (entry,) = http.get(f"{repo.simple}{name}/", headers={"Accept": JSON_V1}).json()["files"]
            html = http.get(f"{repo.simple}{name}/").text
            metadata = http.get(entry["url"] + ".metadata")
            if name == "static":
                assert entry["core-metadata"] == {"sha256": hashlib.sha256(metadata.content).hexdigest()}
                assert entry["requires-dist"] == ["lib>=1"] and "data-core-metadata" in html
            else:
                assert entry["core-metadata"] is False and entry["dist-info-metadata"] is False
                assert "requires-dist" not in entry and "data-core-metadata" not in html
                assert metadata.status_code == 404


def test_json_pages_carry_what_resolvers_read(repo: Repo) -> None:
    extra = "Requires-Dist: lib>=1\nRequires-Dist: fast; extra == 'speed'\nProvides-Extra: speed\n"
    extra += "Requires-External: libpq\n"
    meta = d.metadata("graph", "1.0", extra=extra)
    assert repo.upload("graph-1.0-py3-none-any.whl", d.wheel("graph", "1.0", meta=meta)).status_code == 200
    with repo.raw("viewer") as http:
        (entry,) = http.get(repo.simple + "graph/", headers={"Accept": JSON_V1}).json()["files"]
    assert entry["requires-dist"] == ["lib>=1", "fast; extra == 'speed'"]
    assert entry["provides-extra"] == ["speed"] and entry["requires-external"] == ["libpq"]


def test_format_takes_the_media_type_as_people_write_it(repo: Repo) -> None:
    _publish(repo)
    with repo.raw() as http:
        unencoded = http.get(repo.simple + "demo-pkg/?format=application/vnd.pypi.simple.v1+json")
        assert unencoded.status_code == 200 and unencoded.headers["content-type"] == JSON_V1
        encoded = http.get(repo.simple + "demo-pkg/", params={"format": "application/vnd.pypi.simple.v1+json"})
        assert encoded.headers["content-type"] == JSON_V1
