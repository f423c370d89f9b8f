"""Bad uploads, in the style of the public index's own upload checks.

Every case asserts the status, the message, and that no row and no blob was left behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import TEST_MAX_UPLOAD
from tests.support import distbuilder as d
from tests.support.harness import Repo

Setup = Callable[[Repo], None]


@dataclass(frozen=True)
class Case:
    filename: str
    content: bytes
    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    setup: Setup | None = None
    role: str = "admin"
    omit_fields: tuple[str, ...] = ()


WHEEL = "demo-1.0-py3-none-any.whl"
SDIST = "demo-1.0.tar.gz"
GOOD_WHEEL = d.wheel()
GOOD_SDIST = d.sdist()


def _duplicate_member_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in d.wheel_members().items():
            archive.writestr(member, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("demo/__init__.py", b"again")
    return buffer.getvalue()


def _wheel_with(**changes: bytes | None) -> bytes:
    members: dict[str, bytes | None] = dict(d.wheel_members())
    members.update(changes)
    return d.zip_bytes({k: v for k, v in members.items() if v is not None})


def _sdist_with(changes: dict[str, bytes | None], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    members: dict[str, bytes | None] = dict(d.sdist_members())
    members.update(changes)
    return d.tar_gz_bytes({k: v for k, v in members.items() if v is not None}, extra=extra)


def _tar_info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _zip_bomb() -> bytes:
    return _wheel_with(**{"demo/zeros.bin": bytes(70 * 1024 * 1024)})


def _gzip_bomb() -> bytes:
    return _sdist_with({"demo-1.0/zeros.bin": bytes(70 * 1024 * 1024)})


def _bzip2_wheel() -> bytes:
    return d.zip_bytes(d.wheel_members(), compression=zipfile.ZIP_BZIP2)


def _upload_first(content: bytes, filename: str = WHEEL) -> Setup:
    def setup(repo: Repo) -> None:
        assert repo.upload(filename, content).status_code == 200

    return setup


def _upload_then_delete(repo: Repo) -> None:
    response = repo.upload(WHEEL, GOOD_WHEEL)
    assert response.status_code == 200
    with repo.client() as api:
        file_id = api.get(f"{repo.manage}/packages/demo").json()["files"][0]["id"]
        assert api.delete(f"/spaces/{repo.space}/package-repositories/files/{file_id}").status_code == 204


def _meta(extra: str = "", **kwargs: str) -> bytes:
    return d.metadata(
        kwargs.get("name", "demo"),
        kwargs.get("version", "1.0"),
        extra=extra,
        metadata_version=kwargs.get("metadata_version", "2.1"),
    )


CASES: dict[str, Case] = {
    # -- the legacy protocol envelope --
    "missing-action": Case(WHEEL, GOOD_WHEEL, 400, "Missing ':action' field", omit_fields=(":action",)),
    "other-action": Case(WHEEL, GOOD_WHEEL, 400, "Unsupported ':action'", {":action": "remove_pkg"}),
    "protocol-version": Case(WHEEL, GOOD_WHEEL, 400, "Unknown protocol version", {"protocol_version": "2"}),
    # -- form fields against the file --
    "filetype-unknown": Case(
        WHEEL, GOOD_WHEEL, 400, "Invalid value for filetype: 'bdist_egg'", {"filetype": "bdist_egg"}
    ),
    "filetype-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "does not match the file", {"filetype": "sdist"}),
    "pyversion-source-wheel": Case(WHEEL, GOOD_WHEEL, 400, "'source' is only for sdists", {"pyversion": "source"}),
    "pyversion-sdist": Case(SDIST, GOOD_SDIST, 400, "sdists use 'source'", {"pyversion": "py3"}),
    "form-name-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "The form field name 'other'", {"name": "other"}),
    "form-version-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "The form field version '2.0'", {"version": "2.0"}),
    "form-version-invalid": Case(WHEEL, GOOD_WHEEL, 400, "not a valid PEP 440 version", {"version": "one"}),
    "md5-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "(md5_digest)", {"md5_digest": "0" * 32}),
    "sha256-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "(sha256_digest)", {"sha256_digest": "0" * 64}),
    "blake2-mismatch": Case(WHEEL, GOOD_WHEEL, 400, "(blake2_256_digest)", {"blake2_256_digest": "0" * 64}),
    # -- filenames --
    "ext-exe": Case("demo-1.0.win32.exe", GOOD_WHEEL, 400, "Invalid file extension"),
    "ext-egg": Case("demo-1.0-py3.11.egg", GOOD_WHEEL, 400, "Invalid file extension"),
    "ext-bz2": Case("demo-1.0.tar.bz2", GOOD_SDIST, 400, "Invalid file extension"),
    "slash-in-name": Case("../demo-1.0-py3-none-any.whl", GOOD_WHEEL, 400, "Cannot upload a file with '/'"),
    "wheel-name-parts": Case("demo.whl", GOOD_WHEEL, 400, "Invalid wheel filename"),
    "wheel-bad-version": Case("demo-1.x.y-py3-none-any.whl", GOOD_WHEEL, 400, "Invalid wheel filename"),
    "sdist-no-version": Case("demo.tar.gz", GOOD_SDIST, 400, "Invalid source distribution filename"),
    "non-ascii-name": Case("démo-1.0-py3-none-any.whl", GOOD_WHEEL, 400, "printable ASCII"),
    # -- archives --
    "empty-file": Case(WHEEL, b"", 400, "the file is empty"),
    "wheel-not-zip": Case(WHEEL, b"not a zip at all" * 10, 400, "not a valid ZIP archive"),
    # the archive is read in the same trip as the digests are made, but a wrong digest is said first
    "not-zip-and-wrong-digest": Case(
        WHEEL, b"not a zip at all" * 10, 400, "(sha256_digest)", {"sha256_digest": "0" * 64}
    ),
    "wheel-no-metadata": Case(
        WHEEL, _wheel_with(**{"demo-1.0.dist-info/METADATA": None}), 400, "does not contain the required METADATA file"
    ),
    "wheel-no-wheel-file": Case(
        WHEEL, _wheel_with(**{"demo-1.0.dist-info/WHEEL": None}), 400, "does not contain the required WHEEL file"
    ),
    "wheel-other-dist-info": Case(
        WHEEL, d.zip_bytes(d.wheel_members("other")), 400, "does not contain the required METADATA file"
    ),
    "wheel-two-dist-infos": Case(
        WHEEL, _wheel_with(**{"Demo-1.0.dist-info/METADATA": d.metadata()}), 400, "more than one .dist-info"
    ),
    "wheel-bzip2": Case(WHEEL, _bzip2_wheel(), 400, "unsupported compression method"),
    "wheel-zip-bomb": Case(WHEEL, _zip_bomb(), 400, "possible zip bomb"),
    "wheel-dotdot-member": Case(WHEEL, _wheel_with(**{"../evil.py": b"x"}), 400, "unsafe path"),
    "wheel-absolute-member": Case(WHEEL, _wheel_with(**{"/etc/evil": b"x"}), 400, "unsafe path"),
    "wheel-duplicate-member": Case(WHEEL, _duplicate_member_zip(), 400, "duplicate archive member"),
    "wheel-huge-metadata": Case(
        WHEEL,
        _wheel_with(**{"demo-1.0.dist-info/METADATA": d.metadata() + b"x" * (4 * 1024 * 1024)}),
        400,
        "is larger than",
    ),
    "sdist-not-gzip": Case(SDIST, b"plain bytes" * 20, 400, "not a valid gzip-compressed tar archive"),
    "sdist-gzip-not-tar": Case(
        SDIST, gzip.compress(b"not a tar" * 100), 400, "not a valid gzip-compressed tar archive"
    ),
    "sdist-no-pkg-info": Case(SDIST, _sdist_with({"demo-1.0/PKG-INFO": None}), 400, "required PKG-INFO file"),
    "sdist-two-tops": Case(SDIST, _sdist_with({"other-1.0/setup.py": b""}), 400, "exactly one top-level directory"),
    "sdist-wrong-top": Case(SDIST, d.tar_gz_bytes(d.sdist_members("other")), 400, "does not match the filename"),
    "sdist-gzip-bomb": Case(SDIST, _gzip_bomb(), 400, "possible gzip bomb"),
    "sdist-dotdot-member": Case(SDIST, _sdist_with({"demo-1.0/../../evil": b"x"}), 400, "unsafe path"),
    "sdist-fifo": Case(
        SDIST, _sdist_with({}, [_tar_info("demo-1.0/fifo", tarfile.FIFOTYPE)]), 400, "not a regular file or directory"
    ),
    "sdist-absolute-symlink": Case(
        SDIST, _sdist_with({}, [_tar_info("demo-1.0/link", tarfile.SYMTYPE, "/etc/passwd")]), 400, "unsafe path"
    ),
    # -- core metadata --
    "meta-bad-version": Case(WHEEL, d.wheel(meta=_meta(version="1.0zz")), 400, "Invalid distribution metadata"),
    "meta-no-name": Case(
        WHEEL, d.wheel(meta=b"Metadata-Version: 2.1\nVersion: 1.0\n"), 400, "Invalid distribution metadata"
    ),
    "meta-unknown-metadata-version": Case(
        WHEEL, d.wheel(meta=_meta(metadata_version="9.9")), 400, "Invalid distribution metadata"
    ),
    "meta-bad-requires-python": Case(
        WHEEL, d.wheel(meta=_meta("Requires-Python: >=three\n")), 400, "Invalid distribution metadata"
    ),
    "meta-bad-requires-dist": Case(
        WHEEL, d.wheel(meta=_meta("Requires-Dist: not a [valid requirement\n")), 400, "Invalid distribution metadata"
    ),
    "meta-name-differs": Case(WHEEL, d.wheel(meta=_meta(name="other")), 400, "project name in the metadata ('other')"),
    "meta-version-differs": Case(WHEEL, d.wheel(meta=_meta(version="2.0")), 400, "version in the metadata (2.0)"),
    # -- against what the repository already holds --
    "file-exists-other-bytes": Case(
        WHEEL,
        d.wheel(salt="x"),
        400,
        "File already exists ('demo-1.0-py3-none-any.whl'",
        setup=_upload_first(GOOD_WHEEL),
    ),
    "same-bytes-other-name": Case(
        "demo-1.0-py2.py3-none-any.whl", GOOD_WHEEL, 400, "same contents were uploaded", setup=_upload_first(GOOD_WHEEL)
    ),
    "second-sdist": Case(
        "demo-1.0.zip",
        d.zip_bytes(d.sdist_members()),
        400,
        "Only one sdist may be uploaded per release",
        setup=_upload_first(GOOD_SDIST, SDIST),
    ),
    # one release however its version is spelled: "1.0.0" is "1.0"
    "same-wheel-other-spelling": Case(
        "demo-1.0.0-py3-none-any.whl",
        d.wheel(version="1.0.0"),
        400,
        "A wheel for the same release, build and tags already exists: 'demo-1.0-py3-none-any.whl'",
        setup=_upload_first(GOOD_WHEEL),
    ),
    "second-sdist-other-spelling": Case(
        "demo-1.0.0.tar.gz",
        d.sdist(version="1.0.0"),
        400,
        "Only one sdist may be uploaded per release",
        setup=_upload_first(GOOD_SDIST, SDIST),
    ),
    "filename-reuse": Case(
        WHEEL, d.wheel(salt="new"), 400, "This filename has already been used", setup=_upload_then_delete
    ),
    "too-large": Case(WHEEL, b"\0" * (TEST_MAX_UPLOAD + 1), 413, "File too large"),
    # -- who may upload --
    "viewer-cannot-publish": Case(WHEEL, GOOD_WHEEL, 403, "You lack publish access", role="viewer"),
    "outsider-sees-nothing": Case(WHEEL, GOOD_WHEEL, 404, "Not Found", role="outsider"),
}


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_upload(repo: Repo, case: Case) -> None:
    if case.setup:
        case.setup(repo)
    before = repo.server.snapshot()
    fields = {":action": "file_upload", "protocol_version": "1", **case.fields}
    for name in case.omit_fields:
        fields.pop(name)
    with repo.raw(case.role) as http:
        response = http.post(repo.legacy, data=fields, files={"content": (case.filename, case.content)})
    assert response.status_code == case.status, response.text
    assert case.message in response.text
    assert repo.server.snapshot() == before, "a rejected upload left a row or a blob behind"
    assert not list(repo.server.state.staging.glob("incoming-*")), "a staging file was left behind"


def test_the_same_checks_guard_the_management_door(repo: Repo) -> None:
    before = repo.server.snapshot()
    with repo.client() as api:
        response = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0.tar.bz2", GOOD_SDIST)})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid file extension")
    assert repo.server.snapshot() == before


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"file": 1}', "application/json", "multipart/form-data"),
        (
            b'--x\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
            "does not have a file",
        ),
        (
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
            "Missing ':action' field",
        ),
        (b"garbage without any boundary", "multipart/form-data; boundary=zz", "Malformed multipart body"),
    ],
    ids=["not-multipart", "no-file-part", "no-action", "garbage-body"],
)
def test_unreadable_forms(repo: Repo, body: bytes, content_type: str, message: str) -> None:
    before = repo.server.snapshot()
    with repo.raw() as http:
        response = http.post(repo.legacy, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert message in response.text
    assert repo.server.snapshot() == before


def test_supplied_digests_that_match_are_accepted(repo: Repo) -> None:
    digests = {
        "md5_digest": hashlib.md5(GOOD_WHEEL).hexdigest(),
        "sha256_digest": hashlib.sha256(GOOD_WHEEL).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(GOOD_WHEEL, digest_size=32).hexdigest(),
    }
    assert (
        repo.upload(
            WHEEL, GOOD_WHEEL, filetype="bdist_wheel", pyversion="py3", name="Demo", version="1.0", **digests
        ).status_code
        == 200
    )


def test_registration_is_answered_with_what_to_do_instead(repo: Repo) -> None:
    fields = {":action": "submit", "name": "demo", "version": "1.0"}
    body = "".join(f'--x\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
    with repo.raw() as http:  # what ``twine register`` sends: a form without a file
        response = http.post(
            repo.legacy,
            content=(body + "--x--\r\n").encode(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    assert response.status_code == 410
    assert "Registration is not needed" in response.text and "twine upload" in response.text


@pytest.mark.parametrize("root", ["", "/"])
def test_the_repository_root_takes_uploads_too(repo: Repo, root: str) -> None:
    """Other indexes take twine's uploads at the repository's root (the CodeScoring seed)."""
    with repo.raw() as http:
        response = http.post(
            repo.legacy.removesuffix("/legacy/") + root,
            data={":action": "file_upload", "protocol_version": "1"},
            files={"content": (f"root{len(root)}-1.0-py3-none-any.whl", d.wheel(f"root{len(root)}"))},
        )
    assert response.status_code == 200, response.text
