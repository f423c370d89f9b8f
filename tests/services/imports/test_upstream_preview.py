"""Previews of the configured upstream index, and reading metadata from it as cheaply as possible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qarion_pypi.distributions.archives import ArchiveLimits
from qarion_pypi.services.imports.upstream_preview import versions
from qarion_pypi.simple.model import FileEntry, ProjectPage
from qarion_pypi.upstream.http import Outbound
from qarion_pypi.upstream.metadata import fetch_metadata
from qarion_pypi.upstream.policy import OutboundPolicy
from qarion_pypi.upstream.simple import Fetched
from tests.support import distbuilder as d
from tests.support.harness import Repo, importing_server, live_server, make_repo, static_server

LIMITS = ArchiveLimits(4 * 1024 * 1024, 100)


def _meta(name: str, version: str, *lines: str) -> bytes:
    return d.metadata(name, version, extra="".join(line + "\n" for line in lines))


# app -> lib (1.0: 2.0 needs Python 3.12, 3.0 is yanked), mac-only on darwin, win-only on win32,
# opt[fast] -> speedup, which has a macOS and a manylinux wheel and an sdist.
GRAPH = [
    ("app-1.0-py3-none-any.whl", d.wheel("app", "1.0", meta=_meta(
        "app", "1.0", "Requires-Dist: lib>=1.0", 'Requires-Dist: mac-only; sys_platform == "darwin"',
        'Requires-Dist: win-only; sys_platform == "win32"', "Requires-Dist: opt[fast]>=1.0"))),
    ("lib-1.0-py3-none-any.whl", d.wheel("lib", "1.0")),
    ("lib-2.0-py3-none-any.whl", d.wheel("lib", "2.0", meta=_meta("lib", "2.0", "Requires-Python: >=3.12"))),
    ("lib-3.0-py3-none-any.whl", d.wheel("lib", "3.0")),
    ("mac_only-1.0-py3-none-any.whl", d.wheel("mac-only", "1.0")),
    ("win_only-1.0-py3-none-any.whl", d.wheel("win-only", "1.0")),
    ("opt-1.0-py3-none-any.whl", d.wheel("opt", "1.0", meta=_meta(
        "opt", "1.0", "Provides-Extra: fast", 'Requires-Dist: speedup>=1.0; extra == "fast"'))),
    ("speedup-1.0-cp311-cp311-macosx_11_0_arm64.whl", d.wheel("speedup", "1.0", salt="mac")),
    ("speedup-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", d.wheel("speedup", "1.0", salt="linux")),
    ("speedup-1.0.tar.gz", d.sdist("speedup", "1.0")),
]  # fmt: skip
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
            *GRAPH,
        ):
            assert repo.upload(filename, content).status_code == 200
        with repo.client() as api:
            for file in api.get(f"{repo.manage}/packages/alpha").json()["files"]:
                if file["version"] == "2.0":
                    api.patch(f"/spaces/{repo.space}/package-repositories/files/{file['id']}/yank",
                              json={"yanked": True, "reason": "bad"}).raise_for_status()  # fmt: skip
            for file in api.get(f"{repo.manage}/packages/lib").json()["files"]:
                if file["version"] == "3.0":
                    api.patch(f"/spaces/{repo.space}/package-repositories/files/{file['id']}/yank",
                              json={"yanked": True}).raise_for_status()  # fmt: skip
        yield repo


@pytest.fixture(scope="module")
def importer(upstream: Repo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    with importing_server(upstream, tmp_path_factory.mktemp("importer") / "data") as repo:
        yield repo


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
        content = httpx.get(
            wheel["download_url"], auth=("__token__", upstream.keys["viewer"]), follow_redirects=True
        ).content
        (tmp_path / wheel["filename"]).write_bytes(content)
        with static_server(tmp_path) as url:  # no range support: the whole file is fetched
            plain = FileEntry(wheel["filename"], url + wheel["filename"], wheel["sha256"], wheel["size"])
            downloaded = await fetch_metadata(outbound.with_auth(None), plain, LIMITS, 10**9)
        assert downloaded.via == "download" and downloaded.raw == ranged.raw
    finally:
        await outbound.aclose()


def _preview(repo: Repo, **body: object) -> httpx.Response:
    with repo.client() as api:
        return api.post(f"{repo.manage}/imports/pypi/dependencies/preview",
                        json={"package_name": "app", "version": "1.0", "python_tags": ["cp311"], **body})  # fmt: skip


def _closure(document: dict) -> dict[str, tuple[str, list[str]]]:
    return {
        d["normalized_name"]: (d["version"], [a["filename"] for a in d["artifacts"]]) for d in document["dependencies"]
    }


def test_dependency_preview_for_macos_arm64(importer: Repo) -> None:
    response = _preview(importer, platform_tags=["macosx_11_0_arm64"], include_sdists=False)
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["root_filenames"] == ["app-1.0-py3-none-any.whl"]
    assert document["target"]["environment"]["sys_platform"] == "darwin"
    assert document["target"]["environment"]["platform_machine"] == "arm64"
    assert _closure(document) == {
        "lib": ("1.0", ["lib-1.0-py3-none-any.whl"]),
        "mac-only": ("1.0", ["mac_only-1.0-py3-none-any.whl"]),
        "opt": ("1.0", ["opt-1.0-py3-none-any.whl"]),
        "speedup": ("1.0", ["speedup-1.0-cp311-cp311-macosx_11_0_arm64.whl"]),
    }
    assert document["dependency_count"] == 4
    speedup = next(d for d in document["dependencies"] if d["normalized_name"] == "speedup")
    assert speedup["required_by"] == ["opt"]


def test_dependency_preview_for_linux_with_sdists(importer: Repo) -> None:
    document = _preview(importer, platform_tags=["manylinux_2_17_x86_64"], include_sdists=True).json()
    closure = _closure(document)
    assert set(closure) == {"lib", "opt", "speedup"}  # no mac-only, no win-only
    assert sorted(closure["speedup"][1]) == ["speedup-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "speedup-1.0.tar.gz"]


def test_already_imported_files_are_counted(importer: Repo, upstream: Repo) -> None:
    with upstream.raw("viewer") as http:
        page = http.get(upstream.simple + "lib/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        wheel = next(f for f in page["files"] if f["filename"] == "lib-1.0-py3-none-any.whl")
        content = http.get(wheel["url"]).content
    assert importer.upload("lib-1.0-py3-none-any.whl", content).status_code == 200
    document = _preview(importer, platform_tags=["manylinux_2_17_x86_64"], include_sdists=False).json()
    lib = next(d for d in document["dependencies"] if d["normalized_name"] == "lib")
    assert lib["artifacts"][0]["already_imported"] is True
    assert document["already_imported_count"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"python_tags": ["py2"]}, 422, "python_tags"),
        ({"platform_tags": ["amiga_68k"]}, 422, "platform_tags"),
        ({"selected_filenames": ["app-9.9.tar.gz"]}, 422, "selected_filenames"),
        ({"python_tags": "cp311"}, 422, "python_tags"),
        ({"selected_filenames": [1]}, 422, "selected_filenames"),
        ({"version": "2.0"}, 409, None),
    ],
)
def test_dependency_preview_errors(importer: Repo, body: dict, status: int, field: str | None) -> None:
    response = _preview(importer, **body)
    assert response.status_code == status, response.text
    if field:
        assert field in [e["field"] for e in response.json()["errors"]]
