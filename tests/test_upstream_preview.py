"""Previews of the configured upstream index, and reading metadata from it as cheaply as possible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qarion_pypi.distributions.archives import ArchiveLimits
from qarion_pypi.services.upstream_preview import versions
from qarion_pypi.simple.model import FileEntry, ProjectPage
from qarion_pypi.upstream.http import Outbound
from qarion_pypi.upstream.metadata import fetch_metadata
from qarion_pypi.upstream.policy import OutboundPolicy
from qarion_pypi.upstream.simple import Fetched
from tests import distbuilder as d
from tests.harness import Repo, live_server, make_repo, static_server

LIMITS = ArchiveLimits(4 * 1024 * 1024, 100)
NATIVE = "native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    with live_server(tmp_path_factory.mktemp("preview-upstream") / "data") as server:
        repo = make_repo(server)
        for filename, content in (
            ("alpha-1.0-py3-none-any.whl", d.wheel("alpha", "1.0")),
            ("alpha-1.0.tar.gz", d.sdist("alpha", "1.0")),
            ("alpha-2.0-py3-none-any.whl", d.wheel("alpha", "2.0")),
            ("alpha-2.1rc1-py3-none-any.whl", d.wheel("alpha", "2.1rc1")),
            (NATIVE, d.wheel("native", "1.0")),
        ):
            assert repo.upload(filename, content).status_code == 200
        with repo.client() as api:
            for file in api.get(f"{repo.manage}/packages/alpha").json()["files"]:
                if file["version"] == "2.0":
                    api.patch(f"/spaces/{repo.space}/package-repositories/files/{file['id']}/yank",
                              json={"yanked": True, "reason": "bad"}).raise_for_status()  # fmt: skip
        yield repo


@pytest.fixture(scope="module")
def importer(upstream: Repo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    # The upstream lives on loopback: allowed because it is the configured upstream's own host.
    netrc = tmp_path_factory.mktemp("netrc") / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login __token__ password {upstream.keys['viewer']}\n")
    index = upstream.server.url + upstream.simple
    with live_server(tmp_path_factory.mktemp("importer") / "data", upstream_index_url=index,
                     upstream_netrc=str(netrc)) as server:  # fmt: skip
        yield make_repo(server)


def test_preview_versions(importer: Repo) -> None:
    with importer.client() as api:
        preview = api.get(f"{importer.manage}/pypi/packages/Alpha").json()
    assert preview["normalized_name"] == "alpha"
    assert preview["latest_version"] == "1.0"  # 2.0 is yanked, 2.1rc1 a pre-release
    assert preview["summary"] == "A demo package"
    assert preview["versions"] == [
        {"version": "2.1rc1", "file_count": 1, "yanked_file_count": 0, "unsupported_file_count": 0},
        {"version": "2.0", "file_count": 1, "yanked_file_count": 1, "unsupported_file_count": 0},
        {"version": "1.0", "file_count": 2, "yanked_file_count": 0, "unsupported_file_count": 0},
    ]


def test_preview_release_files(importer: Repo) -> None:
    with importer.client() as api:
        release = api.get(f"{importer.manage}/pypi/packages/alpha/versions/1.0").json()
        native = api.get(f"{importer.manage}/pypi/packages/native/versions/1.0").json()
        yanked = api.get(f"{importer.manage}/pypi/packages/alpha/versions/2.0").json()
    by_type = {f["distribution_type"]: f for f in release["files"]}
    assert by_type["wheel"]["python_tags"] == ["py3"] and by_type["wheel"]["platform_tags"] == ["any"]
    assert by_type["sdist"]["package_type"] == "sdist" and by_type["sdist"]["python_tags"] == ["source"]
    assert all(f["sha256"] and f["size"] and f["upload_time"] for f in release["files"])
    (wheel,) = native["files"]
    assert (wheel["python_tags"], wheel["abi_tags"], wheel["platform_tags"]) == (
        ["cp311"],
        ["cp311"],
        ["manylinux_2_17_x86_64"],
    )
    assert yanked["files"][0]["yanked"] is True and yanked["files"][0]["yanked_reason"] == "bad"


def test_preview_errors(importer: Repo, repo: Repo) -> None:
    with importer.client() as api:
        assert api.get(f"{importer.manage}/pypi/packages/missing").status_code == 404
        assert api.get(f"{importer.manage}/pypi/packages/alpha/versions/9.9").status_code == 404
    with importer.client("editor") as editor:
        assert editor.get(f"{importer.manage}/pypi/packages/alpha").status_code == 403
    with repo.client() as api:  # the session server has no upstream configured
        unconfigured = api.get(f"{repo.manage}/pypi/packages/alpha")
        assert unconfigured.status_code == 503 and "No upstream index is configured" in unconfigured.json()["detail"]


def test_unsupported_files_are_counted_per_version() -> None:
    page = ProjectPage("x", "x", [FileEntry("x-1.0-py3-none-any.whl", "/x", "0" * 64, 1)])
    fetched = Fetched(page, None, unsupported=("x-1.0-py3.11.egg", "x-1.0.win32.exe", "garbage"))
    assert versions(fetched)["1.0"].as_dict()["unsupported_file_count"] == 2


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_metadata_by_range_requests_then_by_download(upstream: Repo, tmp_path: Path, anyio_backend: str) -> None:
    with upstream.client() as api:
        wheel = next(f for f in api.get(f"{upstream.manage}/packages/alpha").json()["files"]
                     if f["filename"] == "alpha-1.0-py3-none-any.whl")  # fmt: skip
    outbound = Outbound(OutboundPolicy(allow_private=True))
    try:
        client = outbound.with_auth(("__token__", upstream.keys["viewer"]))
        entry = FileEntry(wheel["filename"], wheel["download_url"], wheel["sha256"], wheel["size"])  # no PEP 658
        ranged = await fetch_metadata(client, entry, LIMITS, 10**9)
        assert ranged.via == "range" and ranged.raw.startswith(b"Metadata-Version")
        with_pep658 = FileEntry(**{**entry.__dict__, "core_metadata": wheel["core_metadata_sha256"]})
        assert (await fetch_metadata(client, with_pep658, LIMITS, 10**9)).via == "pep658"
        content = httpx.get(wheel["download_url"], auth=("__token__", upstream.keys["viewer"])).content
        (tmp_path / wheel["filename"]).write_bytes(content)
        with static_server(tmp_path) as url:  # no range support: the whole file is fetched
            plain = FileEntry(wheel["filename"], url + wheel["filename"], wheel["sha256"], wheel["size"])
            downloaded = await fetch_metadata(outbound.with_auth(None), plain, LIMITS, 10**9)
        assert downloaded.via == "download" and downloaded.raw == ranged.raw
    finally:
        await outbound.aclose()

