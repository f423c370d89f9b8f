"""A target environment given by tags: cp311 + macosx_11_0_arm64 means CPython 3.11 on darwin arm64.

It yields the PEP 508 marker environment to evaluate ``Requires-Dist`` with, and the wheel tags
such an interpreter accepts, most preferred first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from qarion_pypi.errors import FieldError, ValidationFailed

_PYTHON_TAG = re.compile(r"^(cp|py)(\d)(\d+)$")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MUSLLINUX = re.compile(r"^musllinux_(\d+)_(\d+)_(\w+)$")
_MACOS = re.compile(r"^macosx_(\d+)_(\d+)_(\w+)$")
_WINDOWS = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}


@dataclass(frozen=True)
class Target:
    python: tuple[int, int]
    implementation: str  # "cp" or "py"
    platform: str  # the first requested platform tag, or "any"

    @property
    def python_version(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @cached_property
    def environment(self) -> dict[str, str]:
        system, sys_platform, machine = _platform_facts(self.platform)
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python_version}.0",
            "os_name": "nt" if system == "Windows" else "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": f"{self.python_version}.0",
            "python_version": self.python_version,
            "sys_platform": sys_platform,
        }

    @cached_property
    def tags(self) -> list[Tag]:
        """Wheel tags this target installs, most preferred first."""
        platforms = _expand_platform(self.platform)
        interpreter = f"cp{self.python[0]}{self.python[1]}"
        found = list(cpython_tags(self.python, abis=[interpreter], platforms=platforms)) if platforms else []
        found += list(compatible_tags(self.python, interpreter, platforms=platforms or ["any"]))
        return list(dict.fromkeys(found))

    @cached_property
    def _rank(self) -> dict[Tag, int]:
        return {tag: index for index, tag in enumerate(self.tags)}

    def rank(self, wheel_tags: frozenset[Tag]) -> int | None:
        """How well a wheel fits (lower is better); None when it does not install here."""
        ranks = [self._rank[tag] for tag in wheel_tags if tag in self._rank]
        return min(ranks) if ranks else None


def target_from(python_tags: list[str], platform_tags: list[str]) -> Target:
    errors = []
    python: tuple[int, int] | None = None
    implementation = "cp"
    for tag in python_tags:
        match = _PYTHON_TAG.match(tag)
        if match and int(match.group(2)) == 3:
            python, implementation = (3, int(match.group(3))), match.group(1)
            break
    if python is None:
        errors.append(FieldError("python_tags", "needs a CPython 3 tag such as cp311 (or py311)"))
    platform = platform_tags[0] if platform_tags else "any"
    if not known_platform(platform):
        errors.append(FieldError("platform_tags", f"unknown platform tag {platform!r}"))
    if errors or python is None:
        raise ValidationFailed("Invalid target.", errors)
    return Target(python, implementation, platform)


def known_platform(platform: str) -> bool:
    return platform == "any" or _platform_facts(platform) != ("", "", "")


def _platform_facts(platform: str) -> tuple[str, str, str]:
    """(platform_system, sys_platform, platform_machine) for a platform tag."""
    for pattern in (_MANYLINUX, _MUSLLINUX):
        if match := pattern.match(platform):
            return "Linux", "linux", match.group(3)
    for legacy in _LEGACY_MANYLINUX:
        if platform.startswith(legacy + "_"):
            return "Linux", "linux", platform.removeprefix(legacy + "_")
    if platform.startswith("linux_"):
        return "Linux", "linux", platform.removeprefix("linux_")
    if match := _MACOS.match(platform):
        return "Darwin", "darwin", "arm64" if match.group(3) == "universal2" else match.group(3)
    if platform in _WINDOWS:
        return "Windows", "win32", _WINDOWS[platform]
    if platform == "any":
        return "Linux", "linux", "x86_64"
    return "", "", ""


def _expand_platform(platform: str) -> list[str]:
    """Every platform tag a system described by ``platform`` also accepts, best first."""
    if match := _MANYLINUX.match(platform):
        major, minor, arch = int(match.group(1)), int(match.group(2)), match.group(3)
        expanded = []
        for glibc_minor in range(minor, 4, -1):
            expanded.append(f"manylinux_{major}_{glibc_minor}_{arch}")
            expanded += [
                f"{legacy}_{arch}" for legacy, version in _LEGACY_MANYLINUX.items() if version == (major, glibc_minor)
            ]
        return expanded
    for legacy, (major, minor) in _LEGACY_MANYLINUX.items():
        if platform.startswith(legacy + "_"):
            return _expand_platform(f"manylinux_{major}_{minor}_{platform.removeprefix(legacy + '_')}")
    if match := _MUSLLINUX.match(platform):
        major, minor, arch = int(match.group(1)), int(match.group(2)), match.group(3)
        return [f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
    if match := _MACOS.match(platform):
        return list(mac_platforms((int(match.group(1)), int(match.group(2))), match.group(3)))
    if platform == "any":
        return []
    return [platform]
