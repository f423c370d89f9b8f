"""Archives made to cost the server more than they are worth, or to be two things at once, and
uploads that break the public index's rules. Every refusal leaves no row, blob or staging file."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.harness import Repo, make_repo
from tests.support.inprocess import InProcessServer, inprocess_server

MEMBERS = 500


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """A server that refuses archives of more than MEMBERS members (the default is 100,000)."""
    with inprocess_server(tmp_path_factory.mktemp("bounded") / "data", max_archive_members=MEMBERS) as running:
        yield running


@pytest.fixture
def small(bounded: InProcessServer) -> Repo:
    return make_repo(bounded)


def _staging(repo: Repo) -> list[Path]:
    return list((repo.server.data_dir / "blobs" / ".incoming").glob("incoming-*"))


def _refused(repo: Repo, filename: str, content: bytes, message: str, **headers: str) -> None:
    before = repo.server.snapshot()
    with repo.raw() as http:
        response = http.post(
            repo.legacy,
            data={":action": "file_upload", "protocol_version": "1"},
            files={"content": (filename, content, headers.get("content_type", "application/octet-stream"))},
        )
    assert response.status_code == 400, response.text
    assert message in response.text, response.text
    assert repo.server.snapshot() == before and _staging(repo) == []


def _many_members_tar(count: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for name, data in d.sdist_members().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for index in range(count):
            archive.addfile(tarfile.TarInfo(f"demo-1.0/empty/{index}"))
    return buffer.getvalue()


def test_member_counts_are_bounded_before_the_archive_is_read(small: Repo) -> None:
    many = {f"demo/empty/{index}.py": b"" for index in range(MEMBERS + 1)}
    _refused(small, "demo-1.0-py3-none-any.whl", d.zip_bytes({**d.wheel_members(), **many}), "more than 500 members")
    _refused(small, "demo-1.0.tar.gz", _many_members_tar(MEMBERS + 1), "more than 500 members")
    assert small.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200  # under the bound: fine


def test_metadata_with_endless_headers_is_refused_unparsed(repo: Repo) -> None:
    lines = "".join(f"Requires-Dist: dep{index}\n" for index in range(150_000))
    meta = d.metadata(extra=lines)
    _refused(repo, "demo-1.0-py3-none-any.whl", d.wheel(meta=meta), "more than 10000 header lines")


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("demo-1.0-py3-none-any.whl", b"#!/bin/sh\n" + d.wheel(), "data before its first member"),
        ("demo-1.0-py3-none-any.whl", d.wheel() + b"trailing", "data after its end"),
        ("demo-1.0.zip", d.sdist() + d.zip_bytes(d.sdist_members()), "data before its first member"),
        ("demo-1.0.tar.gz", d.sdist() + d.zip_bytes(d.wheel_members()), "data after its end"),
        ("demo-1.0.tar.gz", d.sdist() + b"\x1f\x8b" + b"\x00" * 64, "data after its end"),
    ],
    ids=["zip-after-script", "zip-then-bytes", "tar-then-zip-as-zip", "tar-then-zip", "tar-then-gzip-junk"],
)
def test_archives_that_are_two_things_at_once(repo: Repo, filename: str, content: bytes, message: str) -> None:
    _refused(repo, filename, content, message)


def test_a_tar_followed_by_a_second_gzip_member_is_refused(repo: Repo) -> None:
    import gzip

    appended = gzip.compress(b"a second archive hides here")
    _refused(repo, "demo-1.0.tar.gz", d.sdist() + appended, "data after its end")


def test_a_wheel_needs_its_record(repo: Repo) -> None:
    members = {k: v for k, v in d.wheel_members().items() if not k.endswith("RECORD")}
    _refused(repo, "demo-1.0-py3-none-any.whl", d.zip_bytes(members), "required RECORD file")


@pytest.mark.parametrize(
    ("filename", "extra", "message"),
    [
        ("demo-1.0-py3+x-none-any.whl", "", "Invalid wheel filename"),
        ("demo-1.0-py3-none-linux$x86.whl", "", "has characters other than letters"),
        ("demo-1.0-py3-none-any.whl", "Summary: " + "s" * 513 + "\n", "longer than 512"),
        ("demo-1.0-py3-none-any.whl", "Requires-Dist: evil @ https://example.invalid/evil.whl\n", "direct dependency"),
        ("demo-1.0-py3-none-any.whl", "License: MIT\nLicense-Expression: MIT\n", "License and License-Expression"),
    ],
    ids=["interpreter-tag", "platform-tag", "long-summary", "direct-url", "two-licenses"],
)
def test_upload_rules_of_the_public_index(repo: Repo, filename: str, extra: str, message: str) -> None:
    meta = d.metadata(metadata_version="2.4", extra=extra).replace(
        b"Summary: A demo package\n", b"", 1 if "Summary" in extra else 0
    )
    _refused(repo, filename, d.wheel(meta=meta), message)


def test_a_picture_is_not_a_distribution(repo: Repo) -> None:
    _refused(repo, "demo-1.0-py3-none-any.whl", d.wheel(), "not a distribution", content_type="image/png")


def test_non_hex_digests_are_400(repo: Repo) -> None:
    before = repo.server.snapshot()
    response = repo.upload("demo-1.0-py3-none-any.whl", d.wheel(), sha256_digest="é" * 64)
    assert response.status_code == 400 and "hexadecimal" in response.text
    assert repo.server.snapshot() == before


def test_one_wheel_per_release_and_tags_whatever_the_filename_says(repo: Repo) -> None:
    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel("demo", "1.0")).status_code == 200
    for spelling in ("Demo-1.0-py3-none-any.whl", "demo-1.0.0-py3-none-any.whl", "demo-01.0-py3-none-any.whl"):
        name, version = spelling.split("-")[:2]
        meta = d.metadata(name, version)
        content = d.wheel(name.lower(), version, meta=meta, salt=spelling)
        response = repo.upload(spelling, content)
        assert response.status_code == 400 and "already exists" in response.text, (spelling, response.text)
    other_tags = d.wheel("demo", "1.0", salt="py2")
    assert repo.upload("demo-1.0-py2-none-any.whl", other_tags).status_code == 200  # other tags: fine
    with repo.client() as api:
        files = api.get(f"{repo.manage}/packages/demo").json()["files"]
    assert sorted(f["filename"] for f in files) == ["demo-1.0-py2-none-any.whl", "demo-1.0-py3-none-any.whl"]
