"""Secrets at rest: upstream passwords are stored sealed, opened only to go upstream, sealed at
start when an older release stored them in clear, and a changed secret key is a clear 503."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from qarion_pypi.auth.sealing import SEALED_PREFIX, SealBroken, Sealer, secret_from
from tests.support.appserver import app_server
from tests.support.harness import make_repo
from tests.support.inprocess import inprocess_server


def test_sealing_round_trips_and_refuses_another_key(tmp_path: Path) -> None:
    sealer = Sealer(b"one secret")
    sealed = sealer.seal("upstream-password")
    assert sealed.startswith(SEALED_PREFIX) and "upstream-password" not in sealed
    assert sealed != sealer.seal("upstream-password")  # a fresh nonce every time
    assert sealer.unseal(sealed) == "upstream-password"
    assert sealer.unseal("stored-in-clear") == "stored-in-clear"  # before sealing existed
    with pytest.raises(SealBroken):
        Sealer(b"another secret").unseal(sealed)
    generated = secret_from("", tmp_path)
    assert len(generated) == 64 and secret_from("", tmp_path) == generated  # made once, then read
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert secret_from("configured", tmp_path) == b"configured"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, list[str]]]:
    """An upstream page that records the Basic credentials it was sent."""
    seen: list[str] = []

    async def page(request: Request) -> HTMLResponse:
        header = request.headers.get("authorization", "")
        seen.append(base64.b64decode(header.removeprefix("Basic ")).decode() if header else "")
        return HTMLResponse("<html><body></body></html>")

    with app_server(Starlette(routes=[Route("/simple/{name}/", page)])) as url:
        yield f"{url}/simple/", seen


def test_upstream_passwords_are_sealed_and_opened_only_to_go_upstream(
    tmp_path: Path, upstream: tuple[str, list[str]]
) -> None:
    index, seen = upstream
    data = tmp_path / "data"
    settings: dict[str, Any] = {"upstream_index_url": index, "secret_key": "the-first-secret"}
    with inprocess_server(data, **settings) as server:
        repo = make_repo(server)
        with repo.client() as api:
            proxy = api.post(f"/spaces/{repo.space}/package-repositories", json={
                "name": "P", "slug": "p", "kind": "proxy", "remote_url": index,
                "upstream_username": "robot", "upstream_password": "hunter2"}).json()  # fmt: skip
        ((stored,),) = server.state.rows("SELECT upstream_password FROM repositories WHERE id = ?", proxy["id"])
        assert stored.startswith(SEALED_PREFIX) and "hunter2" not in stored
        with repo.raw("viewer") as http:
            assert http.get(proxy["simple_index_url"].removeprefix(server.url) + "demo/").status_code == 200
        assert seen[-1] == "robot:hunter2"
        # what an older release left: a password in clear
        server.state.execute("UPDATE repositories SET upstream_password = ? WHERE id = ?", "in-clear", proxy["id"])
        admin_key = server.admin_key
    with inprocess_server(data, admin_key=admin_key, **settings):
        ((stored,),) = server.state.rows("SELECT upstream_password FROM repositories WHERE id = ?", proxy["id"])
        assert stored.startswith(SEALED_PREFIX)  # sealed when the server started
    with inprocess_server(data, admin_key=admin_key, **{**settings, "secret_key": "a-new-secret"}) as changed:
        repo.server = changed
        with repo.raw("viewer") as http:
            refused = http.get(proxy["simple_index_url"].removeprefix(changed.url) + "other/")
        assert refused.status_code == 503 and "secret_key" in refused.text
