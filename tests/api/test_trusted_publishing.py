"""Trusted publishers and the token exchange, against an issuer on loopback: the publisher rules
of each kind, a minted token that uploads where its publishers are and nowhere else, once per
OIDC token, for fifteen minutes, audited with the claims that matched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo, make_repo
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.oidc_issuer import Issuer, github_claims, gitlab_claims, oidc_issuer


@pytest.fixture(scope="module")
def trusting(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """A server that trusts the loopback issuer."""
    with inprocess_server(tmp_path_factory.mktemp("trusting") / "data", oidc_issuers=issuer.url) as running:
        yield running


def _publishers(repo: Repo) -> str:
    return f"{repo.manage}/trusted-publishers"


def _trust(repo: Repo, issuer: Issuer, kind: str, claims: dict[str, Any]) -> dict[str, Any]:
    with repo.client() as api:
        created = api.post(_publishers(repo), json={"kind": kind, "issuer": issuer.url, "claims": claims})
    assert created.status_code == 201, created.text
    return created.json()


def _mint(server: InProcessServer, token: str) -> Any:
    with server.http() as http:
        return http.post("/api/v1.0/oidc/mint-token", json={"token": token})


def _upload(repo: Repo, token: str, name: str, username: str = "oidc") -> Any:
    with repo.server.http(auth=(username, token)) as http:
        form = {":action": "file_upload", "protocol_version": "1"}
        filename = f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
        return http.post(repo.legacy, data=form, files={"content": (filename, d.wheel(name))})


def test_publisher_rules_per_kind(trusting: InProcessServer, issuer: Issuer) -> None:
    repo = make_repo(trusting)
    with repo.client() as api:
        for body, field in (
            ({"kind": "github", "issuer": issuer.url, "claims": {"repository": "a/b"}}, "claims.workflow"),
            ({"kind": "github", "issuer": issuer.url, "claims": {"repository": "a/b", "workflow": "x.yml",
                                                                  "branch": "main"}}, "claims.branch"),
            ({"kind": "gitlab", "issuer": issuer.url, "claims": {"project_path": "g/p"}}, "claims.ci_config_path"),
            ({"kind": "oidc", "issuer": issuer.url, "claims": {}}, "claims"),
            ({"kind": "github", "issuer": "https://elsewhere.example", "claims": {"repository": "a/b",
                                                                                 "workflow": "x.yml"}}, "issuer"),
        ):  # fmt: skip
            refused = api.post(_publishers(repo), json=body)
            assert refused.status_code == 422 and field in [e["field"] for e in refused.json()["errors"]], body
    publisher = _trust(repo, issuer, "github", {"repository": "octo-org/app", "workflow": "release.yml"})
    with repo.client() as api:
        assert (
            api.post(_publishers(repo), json={k: publisher[k] for k in ("kind", "issuer", "claims")}).status_code == 409
        )
        assert [p["id"] for p in api.get(_publishers(repo)).json()] == [publisher["id"]]
    with repo.client("editor") as editor:
        assert editor.get(_publishers(repo)).status_code == 403
    with repo.client() as api:
        assert api.delete(f"{_publishers(repo)}/{publisher['id']}").status_code == 204
        assert api.get(_publishers(repo)).json() == []


def test_a_github_job_publishes_to_its_repository_only(trusting: InProcessServer, issuer: Issuer) -> None:
    repo, other = make_repo(trusting), make_repo(trusting)
    _trust(repo, issuer, "github", {"repository": "Octo-Org/App", "workflow": "release.yml", "environment": "pypi"})
    job = issuer.token(github_claims(environment="pypi"))
    minted = _mint(trusting, job)
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    assert minted.json()["repository_ids"] == [repo.id] and token.startswith("qoidc_")
    expires = datetime.fromisoformat(minted.json()["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)

    for username in ("oidc", "__token__"):
        assert _upload(repo, token, f"ci-{username.strip('_')}", username).status_code == 200
    assert _upload(repo, token, "ci-wrong-name", "someone").status_code == 401
    assert _upload(other, token, "elsewhere").status_code == 404  # not its repository: not even there
    with repo.client() as api:
        stored = api.get(f"{repo.manage}/packages/ci-oidc").json()["files"][0]
        assert stored["uploaded_by"] == "oidc:octo-org/app"
        assert stored["publisher"]["repository"] == "octo-org/app" and stored["publisher"]["issuer"] == issuer.url
        assert api.get(f"{repo.manage}/packages", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with trusting.client(token) as minted_api:  # an upload token manages nothing
        assert minted_api.get("/me").status_code == 200
        deleted = minted_api.delete(f"/spaces/{repo.space}/package-repositories/files/{stored['id']}")
        assert deleted.status_code == 403 and "delete access" in deleted.json()["detail"]

    replay = _mint(trusting, job)
    assert replay.status_code == 409 and "already exchanged" in replay.json()["detail"]
    with trusting.admin() as admin:
        events = admin.get("/admin/audit", params={"resource_type": "publish_token"}).json()
    success = next(e for e in events if e["outcome"] == "success")
    assert "octo-org/app" in success["detail"] and "release.yml" in success["detail"]
    assert token not in str(events)


def test_refusals_of_the_exchange_say_why(trusting: InProcessServer, issuer: Issuer) -> None:
    repo = make_repo(trusting)
    _trust(repo, issuer, "gitlab", {"project_path": "group/app", "ci_config_path": ".gitlab-ci.yml"})
    assert _mint(trusting, issuer.token(gitlab_claims(), algorithm="ES256")).status_code == 200
    cases = [
        (issuer.token(gitlab_claims(config="other.yml")), 403, "No trusted publisher matches"),
        (issuer.token(gitlab_claims(project_path="group/other")), 403, "project_path='group/other'"),
        (issuer.token(gitlab_claims(), aud="other"), 401, "audience"),
        (issuer.token(gitlab_claims(), exp=1_000_000), 401, "expired"),
        (issuer.token(gitlab_claims(), iss="https://unknown.example"), 401, "unknown issuer"),
        ("x" * 10, 401, "not a JWT"),
    ]
    for token, status, reason in cases:
        refused = _mint(trusting, token)
        assert refused.status_code == status and reason in refused.json()["detail"], refused.text
    with trusting.http() as http:
        assert http.post("/api/v1.0/oidc/mint-token", json={}).status_code == 422
        assert http.post("/api/v1.0/oidc/mint-token", content=b"x" * 100_000).status_code == 413


def test_a_minted_token_expires(trusting: InProcessServer, issuer: Issuer) -> None:
    repo = make_repo(trusting)
    _trust(repo, issuer, "oidc", {"sub": "deploy-bot"})
    token = _mint(trusting, issuer.token({"sub": "deploy-bot"})).json()["token"]
    assert _upload(repo, token, "fresh").status_code == 200
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    trusting.state.execute("UPDATE publish_tokens SET expires_at = ?", past)
    expired = _upload(repo, token, "stale")
    assert expired.status_code == 401 and "expired" in expired.text


def test_no_exchange_without_configured_issuers(server: InProcessServer, tmp_path: Path) -> None:
    with oidc_issuer() as issuer:
        refused = _mint(server, issuer.token(github_claims()))
    assert refused.status_code == 403 and "not enabled" in refused.json()["detail"]
