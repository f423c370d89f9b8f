"""The upstream client against a real server: ETag revalidation, netrc credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from qarion_pypi.upstream.http import Outbound, UpstreamError
from qarion_pypi.upstream.policy import OutboundPolicy
from qarion_pypi.upstream.simple import fetch_project
from tests.support import distbuilder as d
from tests.support.harness import Repo

pytestmark = pytest.mark.anyio


async def test_the_upstream_client_revalidates_with_etags(live_repo: Repo) -> None:
    repo = live_repo

    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    outbound = Outbound(OutboundPolicy(allow_private=True))
    try:
        client = outbound.with_auth(("__token__", repo.keys["viewer"]))
        index = repo.server.url + repo.simple
        first = await fetch_project(client, index, "demo")
        assert first.page is not None and first.etag
        assert [f.filename for f in first.page.files] == ["demo-1.0-py3-none-any.whl"]
        assert first.page.files[0].core_metadata  # the upstream's PEP 658 hash comes through
        again = await fetch_project(client, index, "demo", first.etag)
        assert again.not_modified
        assert (await fetch_project(client, index, "absent")).page is None
    finally:
        await outbound.aclose()


async def test_netrc_credentials_are_used_when_none_are_given(live_repo: Repo, tmp_path: Path) -> None:
    repo = live_repo

    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login __token__ password {repo.keys['viewer']}\n")
    netrc.chmod(0o600)
    index = repo.server.url + repo.simple
    with_netrc, without = (
        Outbound(OutboundPolicy(allow_private=True), netrc=str(netrc)),
        Outbound(OutboundPolicy(allow_private=True)),
    )
    try:
        assert (await fetch_project(with_netrc.with_auth(None), index, "demo")).page is not None
        with pytest.raises(UpstreamError, match="401"):
            await fetch_project(without.with_auth(None), index, "demo")
    finally:
        await with_netrc.aclose()
        await without.aclose()
