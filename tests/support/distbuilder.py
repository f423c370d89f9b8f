"""Crafting distribution files in memory, good and deliberately broken, for upload tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Mapping


def metadata(name: str = "demo", version: str = "1.0", *, extra: str = "", metadata_version: str = "2.1") -> bytes:
    text = f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\nSummary: A demo package\n"
    return (text + extra).encode("utf-8")


WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def wheel_members(name: str = "demo", version: str = "1.0", *, meta: bytes | None = None) -> dict[str, bytes]:
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    module = name.replace("-", "_")
    return {
        f"{module}/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": meta if meta is not None else metadata(name, version),
        f"{dist_info}/WHEEL": WHEEL_FILE,
        f"{dist_info}/RECORD": b"",
    }


def zip_bytes(members: Mapping[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def wheel(name: str = "demo", version: str = "1.0", *, meta: bytes | None = None, salt: str = "") -> bytes:
    members = wheel_members(name, version, meta=meta)
    if salt:  # different bytes, same name and version
        members[f"{name.replace('-', '_')}/salt.txt"] = salt.encode()
    return zip_bytes(members)


def tar_gz_bytes(members: Mapping[str, bytes], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in extra or []:
            archive.addfile(info)
    return buffer.getvalue()


def sdist_members(name: str = "demo", version: str = "1.0", *, meta: bytes | None = None) -> dict[str, bytes]:
    top = f"{name.replace('-', '_')}-{version}"
    return {
        f"{top}/PKG-INFO": meta if meta is not None else metadata(name, version),
        f"{top}/pyproject.toml": b"[project]\nname = 'demo'\n",
    }


def sdist(name: str = "demo", version: str = "1.0", *, meta: bytes | None = None) -> bytes:
    return tar_gz_bytes(sdist_members(name, version, meta=meta))
