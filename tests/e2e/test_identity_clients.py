"""Publishing identities with the real clients: twine with a token minted for a CI job, a robot
account with twine, pip and uv, and anonymous pip and uv installs from a public repository while
a private one next to it stays closed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import Clients, make_project
from tests.support.harness import LiveServer, live_server, make_repo
from tests.support.oidc_issuer import Issuer, github_claims

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("identities") / "data", oidc_issuers=issuer.url) as running:
        yield running


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("identity-dists")
    clients = Clients(root / "home")
    return {name: clients.build(make_project(root, name, "1.0"), root / f"dist-{name}")
            for name in ("ci-built", "robot-built", "public-pkg", "private-pkg")}  # fmt: skip


def _installed(target: Path) -> set[str]:
    return {path.name for path in target.glob("*.dist-info")}


def test_twine_uploads_with_a_token_minted_for_the_ci_job(
    server: LiveServer, issuer: Issuer, dists: dict[str, list[Path]], tmp_path: Path
) -> None:
    repo = make_repo(server)
    with repo.client() as api:
        api.post(f"{repo.manage}/trusted-publishers", json={
            "kind": "github", "issuer": issuer.url, "claims": {"repository": "octo-org/app", "workflow": "release.yml"},
        }).raise_for_status()  # fmt: skip
    # what the CI job does: exchange its OIDC token, then twine upload with TWINE_USERNAME=oidc
    minted = httpx.post(server.api + "/oidc/mint-token", json={"token": issuer.token(github_claims())})
    assert minted.status_code == 200, minted.text
    clients = Clients(tmp_path / "home", extra_env={"TWINE_USERNAME": "oidc", "TWINE_PASSWORD": minted.json()["token"]})
    uploaded = clients.twine("upload", "--non-interactive", "--disable-progress-bar", "--repository-url",
                             server.url + repo.legacy, *dists["ci-built"])  # fmt: skip
    assert uploaded.returncode == 0
    with repo.client() as api:
        files = api.get(f"{repo.manage}/packages/ci-built").json()["files"]
    assert {f["uploaded_by"] for f in files} == {"oidc:octo-org/app"} and len(files) == 2


def test_a_robot_account_with_twine_pip_and_uv(
    server: LiveServer, dists: dict[str, list[Path]], tmp_path: Path
) -> None:
    repo = make_repo(server)
    with repo.client() as api:
        robot = api.post(f"/spaces/{repo.space}/robots", json={"name": "release-bot", "role": "member"}).json()
    clients = Clients(tmp_path / "home")
    clients.twine_upload(server.url + repo.legacy, robot["key"], *dists["robot-built"], username=robot["username"])
    host = server.url.removeprefix("http://")
    index = f"http://{quote(robot['username'], safe='')}:{robot['key']}@{host}{repo.simple}"
    clients.pip("install", "--no-cache-dir", "--no-deps", "--index-url", index, "--target", tmp_path / "pip",
                "robot-built")  # fmt: skip
    clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", index, "--target",
               tmp_path / "uv", "robot-built")  # fmt: skip
    assert _installed(tmp_path / "pip") == _installed(tmp_path / "uv") == {"robot_built-1.0.dist-info"}


def test_anonymous_installs_from_a_public_repository_only(server: LiveServer, dists: dict[str, list[Path]],
                                                          tmp_path: Path) -> None:  # fmt: skip
    public, private = make_repo(server), make_repo(server)
    clients = Clients(tmp_path / "home")
    for repo, name in ((public, "public-pkg"), (private, "private-pkg")):
        clients.twine_upload(server.url + repo.legacy, repo.keys["member"], *dists[name])
    with public.client() as api:
        api.patch(public.manage, json={"visibility": "public"}).raise_for_status()
    open_index = server.url + public.simple
    clients.pip("install", "--no-cache-dir", "--index-url", open_index, "--target", tmp_path / "pip", "public-pkg")
    clients.uv("pip", "install", "--no-cache", "--python", sys.executable, "--index-url", open_index, "--target",
               tmp_path / "uv", "public-pkg")  # fmt: skip
    assert _installed(tmp_path / "pip") == _installed(tmp_path / "uv") == {"public_pkg-1.0.dist-info"}
    closed = clients.pip("install", "--no-cache-dir", "--index-url", server.url + private.simple, "--target",
                         tmp_path / "closed", "private-pkg", check=False)  # fmt: skip
    assert closed.returncode != 0 and not _installed(tmp_path / "closed")
    assert httpx.get(server.url + private.simple).status_code == 401
