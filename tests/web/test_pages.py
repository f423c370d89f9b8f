"""The web interface over HTTP (in process): sign-in and sessions, CSRF, what each person may
see, the security headers, escaping of attacker-controlled metadata, and the links that flit and
hatch print after publishing. The real-browser tour is in test_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.harness import Repo, make_repo
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.web import HOSTILE_SUMMARY, form_token, publish_catalogue, sign_in


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(tmp_path_factory.mktemp("web") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def repo(site: InProcessServer) -> Repo:
    made = make_repo(site)
    publish_catalogue(made)
    return made


@contextmanager
def _browser(site: InProcessServer, key: str | None = None) -> Iterator[httpx.Client]:
    with site.http() as http:
        if key:
            assert sign_in(http, key).status_code == 303
        yield http


def test_pages_carry_a_strict_content_security_policy(site: InProcessServer) -> None:
    with _browser(site) as http:
        answer = http.get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text  # scripts come from /static/ only
    assert re.search(r'<script src="/static/copy.js"', answer.text)


def test_sign_in_gives_a_guarded_session_cookie_and_sign_out_ends_it(site: InProcessServer, repo: Repo) -> None:
    with _browser(site) as http:
        answer = sign_in(http, repo.keys["viewer"])
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie and "secure" not in cookie
        assert repo.keys["viewer"] not in answer.headers["set-cookie"]
        stolen = dict(http.cookies)
        page = http.get(f"/spaces/{repo.space}/repositories/repo/")
        assert page.status_code == 200 and repo.keys["viewer"] not in page.text
        signed_out = http.post("/sign-out", data={"csrf_token": form_token(page.text)})
        assert signed_out.status_code == 200 and 'id="key"' in signed_out.text
    with site.http() as other:  # the cookie copied before signing out is worth nothing now
        other.cookies.update(stolen)
        assert other.get(f"/spaces/{repo.space}/repositories/repo/").status_code == 404


def test_the_session_cookie_is_secure_over_https(site: InProcessServer, repo: Repo, tmp_path: Path) -> None:
    with httpx.Client(base_url="https://testserver", transport=site.transport()) as http:
        answer = sign_in(http, repo.keys["viewer"])
    assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()
    # behind a proxy that ends TLS: plain http here, https for the browser (its public URL); the
    # form's cookie is Secure already, so a browser would only send it back over https
    with (
        inprocess_server(tmp_path / "behind", public_url="https://pypi.example.internal") as behind,
        behind.http() as http,
    ):
        start = http.get("/")
    assert "secure" in start.headers["set-cookie"].lower()


def test_wrong_keys_and_forged_forms_are_refused(site: InProcessServer, repo: Repo) -> None:
    with _browser(site) as http:
        token = form_token(http.get("/").text)
        wrong = http.post("/sign-in", data={"csrf_token": token, "key": "qk_not-a-key"})
        assert wrong.status_code == 401 and "Invalid or revoked API key." in wrong.text
        assert "qk_not-a-key" not in wrong.text
    with site.http() as forged:  # a form posted from another site carries no matching token
        refused = forged.post("/sign-in", data={"csrf_token": "guess", "key": repo.keys["viewer"]})
        assert refused.status_code == 403 and "did not come from this site" in refused.text
        assert "set-cookie" not in refused.headers or "qarion_session" not in refused.headers["set-cookie"]
    with _browser(site, repo.keys["viewer"]) as http:
        assert http.post("/sign-out", data={"csrf_token": "guess"}).status_code == 403
        assert http.get(f"/spaces/{repo.space}/repositories/repo/").status_code == 200  # still signed in


def test_a_revoked_key_ends_its_sessions(site: InProcessServer, repo: Repo) -> None:
    with repo.client("admin") as api:
        username = api.get("/me").json()["username"]
        made = api.post(f"/users/{username}/api-keys", json={"name": "browser"}).json()
    with _browser(site, made["key"]) as http:
        assert http.get(f"/spaces/{repo.space}/repositories/repo/").status_code == 200
        with repo.client("admin") as api:
            assert api.delete(f"/users/{username}/api-keys/{made['id']}").status_code == 204
        assert http.get(f"/spaces/{repo.space}/repositories/repo/").status_code == 404


def test_each_person_sees_what_the_api_shows_them(site: InProcessServer, repo: Repo) -> None:
    other = make_repo(site)
    with _browser(site, repo.keys["viewer"]) as http:
        home = http.get("/").text
        assert f"/spaces/{repo.space}/repositories/repo/" in home and other.space not in home
        probe = {"X-Request-ID": "probe-1"}  # the one thing that differs between requests, made equal
        hidden = http.get(f"/spaces/{other.space}/repositories/repo/", headers=probe)
        missing = http.get("/spaces/nowhere/repositories/repo/", headers=probe)
        assert hidden.status_code == missing.status_code == 404 and hidden.text == missing.text
        assert http.get(f"/spaces/{other.space}/repositories/repo/packages/demo/").status_code == 404
        assert http.get("/admin/audit/").status_code == 404 and http.get("/admin/jobs/").status_code == 404
    with _browser(site) as anonymous:
        assert anonymous.get(f"/spaces/{repo.space}/repositories/repo/").status_code == 404


def test_a_package_page_shows_readme_versions_and_files(site: InProcessServer, repo: Repo) -> None:
    with _browser(site, repo.keys["viewer"]) as http:
        page = http.get(f"/spaces/{repo.space}/repositories/repo/packages/demo/").text
        assert '<h1 id="user-content-demo">' in page.replace("\n", "") or ">Demo</h1>" in page  # README rendered
        versions = page.split('class="versions"')[1].split("</ul>")[0]
        assert versions.index(">2.0rc1<") < versions.index(">1.1<") < versions.index(">1.0<")  # newest first
        assert 'title="broken build"' in versions and 'class="badge">pre<' in versions
        assert ">pre-release<" not in page  # the page shows 1.0, the latest final release
        assert "Requires-Dist" not in page and "helper&gt;=1" in page
        assert f'href="/spaces/{repo.space}/repositories/repo/packages/helper/"' in page  # linked dependency
        assert "sha256" in page.lower() and "demo-1.0-py3-none-any.whl" in page  # latest final release
        yanked = http.get(f"/spaces/{repo.space}/repositories/repo/packages/demo/1.1/").text
        assert "This release is yanked: broken build" in yanked
        assert http.get(f"/spaces/{repo.space}/repositories/repo/packages/demo/9.9/").status_code == 404
        listing = http.get(f"/spaces/{repo.space}/repositories/repo/", params={"q": "dem"}).text
        assert "packages/demo/" in listing and "packages/helper/" not in listing
        assert "[global]" in listing and "&lt;your API key&gt;" in listing and repo.keys["viewer"] not in listing


def test_attacker_controlled_metadata_is_inert(site: InProcessServer, repo: Repo) -> None:
    with _browser(site, repo.keys["viewer"]) as http:
        page = http.get(f"/spaces/{repo.space}/repositories/repo/packages/hostile/").text
        listing = http.get(f"/spaces/{repo.space}/repositories/repo/").text
    assert "<script>window.pwned" not in page and "<script>window.pwned" not in listing
    assert "&lt;script&gt;window.pwned = &#39;summary&#39;&lt;/script&gt;" in page
    assert HOSTILE_SUMMARY not in listing
    assert "onerror" not in page and "javascript:" not in page.split("<footer")[0].lower()
    assert "&lt;b&gt;Home" not in page  # a javascript: project URL is not shown as a link at all


def test_flit_and_hatch_links_lead_to_the_package(site: InProcessServer, repo: Repo) -> None:
    with _browser(site, repo.keys["viewer"]) as http:
        flit = http.get("/project/demo/", follow_redirects=False)
        assert flit.status_code == 303
        assert flit.headers["location"] == f"/spaces/{repo.space}/repositories/repo/packages/demo/"
        hatch = http.get(f"{repo.legacy}Demo/1.0/", follow_redirects=False)
        assert hatch.headers["location"] == f"/spaces/{repo.space}/repositories/repo/packages/demo/1.0/"
        assert http.get(f"{repo.legacy}demo/1.0/").status_code == 200
        assert http.get("/project/no-such-package/").status_code == 404
    other = make_repo(site)
    publish_catalogue(other)
    with _browser(site, site.admin_key) as http:  # the admin sees both: a choice
        choice = http.get("/project/demo/")
        assert choice.status_code == 200 and repo.space in choice.text and other.space in choice.text


def test_admins_read_the_audit_log_and_jobs(site: InProcessServer, repo: Repo) -> None:
    with _browser(site, repo.keys["admin"]) as http:
        audit = http.get("/admin/audit/", params={"q": "yank", "space": "", "since": ""})
        assert audit.status_code == 200 and "yank" in audit.text and repo.space in audit.text
        assert http.get("/admin/audit/", params={"since": "yesterday"}).status_code == 422
        assert http.get("/admin/jobs/").status_code == 200
