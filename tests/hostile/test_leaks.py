"""What a caller must not learn: whether a space exists, an upstream's password, and who did what
must never be lost from the audit log."""

from __future__ import annotations

import concurrent.futures

import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo, make_repo


def test_a_hidden_space_answers_exactly_like_a_missing_one(repo: Repo) -> None:
    other = make_repo(repo.server)
    with repo.client("viewer") as stranger:
        for path in ("/package-repositories", "/members", "/package-repositories/project-scopes"):
            probe = {"X-Request-ID": "probe-1"}  # the one thing that differs between requests, made equal
            hidden = stranger.get(f"/spaces/{other.space}{path}", headers=probe)
            missing = stranger.get(f"/spaces/no-such-space{path}", headers=probe)
            assert (
                (hidden.status_code, hidden.content)
                == (missing.status_code, missing.content)
                == (
                    404,
                    b'{"detail":"Space not found.","errors":[],"request_id":"probe-1"}',
                )
            )


@pytest.mark.parametrize(
    "url",
    ["http://[::1/simple/", "http://0177.0.0.1/simple/", "http://a b.example/simple/", "http://2130706433/",
     "http://0x7f.1/", "https:///simple/", "http://exa mple.org/"],
)  # fmt: skip
def test_malformed_upstream_urls_are_422(repo: Repo, url: str) -> None:
    with repo.client() as api:
        response = api.post(
            f"/spaces/{repo.space}/package-repositories", json={"name": "P", "kind": "proxy", "remote_url": url}
        )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "remote_url"


def test_credentials_in_a_remote_url_become_the_upstream_s_and_are_never_shown(repo: Repo) -> None:
    url = "https://robot:s3cr%40t@mirror.example/simple/"
    with repo.client() as api:
        created = api.post(
            f"/spaces/{repo.space}/package-repositories",
            json={"name": "Mirror", "kind": "proxy", "remote_url": url},
        ).json()
        shown = api.get(f"/spaces/{repo.space}/package-repositories/{created['id']}").json()
        both = api.post(
            f"/spaces/{repo.space}/package-repositories",
            json={"name": "Both", "kind": "proxy", "remote_url": url, "upstream_username": "x"},
        )
    for document in (created, shown):
        assert document["remote_url"] == "https://mirror.example/simple/"
        assert document["has_upstream_credentials"] is True
        assert "s3cr" not in str(document) and "robot" not in str(document)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "remote_url"


def test_every_one_of_concurrent_uploads_keeps_its_actor(live_repo: Repo) -> None:
    """The hot path remembers who calls; the audit log must still hear it each time."""
    repo = live_repo
    with repo.raw() as http:
        assert http.get(repo.simple).status_code == 200  # warm the remembered lookup

    def upload(index: int) -> int:
        return repo.upload(f"many{index}-1.0-py3-none-any.whl", d.wheel(f"many{index}")).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        assert set(pool.map(upload, range(20))) == {200}
    with repo.client() as api:
        events = api.get("/admin/audit", params={"q": "many", "resource_type": "file", "limit": 100}).json()
    uploads = [e for e in events if e["action"] == "upload"]
    assert len(uploads) == 20 and all(e["actor"] and e["actor_id"] for e in uploads)
