"""The dependency closure, resolved from an index held in memory: markers, extras, Requires-Python,
yanks, pre-releases, artifact selection and the wording of an impossible resolution."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName

from qarion_pypi.errors import BadRequest, Conflict
from qarion_pypi.resolver.closure import Release, Selection, resolve
from qarion_pypi.resolver.target import Target, target_from
from qarion_pypi.simple.model import FileEntry

pytestmark = pytest.mark.anyio

LINUX_311 = target_from(["cp311"], ["manylinux_2_17_x86_64"])
WINDOWS_311 = target_from(["cp311"], ["win_amd64"])
EVERYTHING = Selection(include_sdists=True, include_universal_wheels=True)


class MemoryIndex:
    """``{filename: [requirement, ...]}``; every page and metadata read is counted."""

    def __init__(self, files: dict[str, list[str]], attributes: dict[str, dict[str, str]] | None = None) -> None:
        self.files = files
        self.attributes = attributes or {}  # filename -> FileEntry fields (yanked, requires_python)
        self.pages_read: list[str] = []
        self.metadata_read: list[str] = []

    async def pages(self, project: NormalizedName) -> list[FileEntry] | None:
        self.pages_read.append(project)
        found = [
            FileEntry(name, f"mem:{name}", "0" * 64, 1, **self.attributes.get(name, {}))  # type: ignore[arg-type]
            for name in self.files
            if name.split("-")[0].replace("_", "-") == project
        ]
        return found or None

    async def requirements(self, entry: FileEntry) -> tuple[str, ...]:
        self.metadata_read.append(entry.filename)
        return tuple(self.files[entry.filename])


async def _closure(index: MemoryIndex, name: str, version: str, target: Target = LINUX_311,
                   selection: Selection = EVERYTHING) -> dict[str, Release]:  # fmt: skip
    releases = await resolve(name, version, target, selection, index.pages, index.requirements)
    assert releases[0].name == name  # the root comes first
    return {release.name: release for release in releases}


async def test_markers_are_evaluated_for_the_target() -> None:
    index = MemoryIndex(
        {
            "app-1.0-py3-none-any.whl": ["lib>=1", "winonly; sys_platform == 'win32'", "old; python_version < '3.8'"],
            "lib-1.0-py3-none-any.whl": [],
            "lib-1.1-py3-none-any.whl": [],
            "winonly-1.0-py3-none-any.whl": [],
            "old-1.0-py3-none-any.whl": [],
        }
    )
    linux = await _closure(index, "app", "1.0")
    assert sorted(linux) == ["app", "lib"] and str(linux["lib"].version) == "1.1"
    assert linux["lib"].required_by == ["app"]
    windows = await _closure(index, "app", "1.0", WINDOWS_311)
    assert sorted(windows) == ["app", "lib", "winonly"]


async def test_extras_bring_in_only_what_they_name() -> None:
    index = MemoryIndex(
        {
            "app-1.0-py3-none-any.whl": ["lib[speed]==1.0"],
            "lib-1.0-py3-none-any.whl": ["fast; extra == 'speed'", "docs; extra == 'docs'"],
            "fast-2.0-py3-none-any.whl": [],
            "docs-1.0-py3-none-any.whl": [],
        }
    )
    assert sorted(await _closure(index, "app", "1.0")) == ["app", "fast", "lib"]


async def test_requires_python_yanks_and_prereleases_narrow_the_choice() -> None:
    index = MemoryIndex(
        {
            "app-1.0-py3-none-any.whl": ["lib"],
            "lib-1.0-py3-none-any.whl": [],
            "lib-2.0-py3-none-any.whl": [],  # needs a newer Python
            "lib-1.5-py3-none-any.whl": [],  # yanked
            "lib-3.0a1-py3-none-any.whl": [],  # a pre-release nobody asked for
        },
        {"lib-2.0-py3-none-any.whl": {"requires_python": ">=3.12"}, "lib-1.5-py3-none-any.whl": {"yanked": "broken"}},
    )
    assert str((await _closure(index, "app", "1.0"))["lib"].version) == "1.0"


async def test_a_yanked_release_is_chosen_when_pinned_exactly() -> None:
    index = MemoryIndex(
        {"app-1.0-py3-none-any.whl": ["lib==1.5"], "lib-1.5-py3-none-any.whl": []},
        {"lib-1.5-py3-none-any.whl": {"yanked": ""}},
    )
    assert str((await _closure(index, "app", "1.0"))["lib"].version) == "1.5"


async def test_artifacts_are_the_best_wheel_plus_what_the_selection_asks_for() -> None:
    index = MemoryIndex(
        {
            "app-1.0-py3-none-any.whl": ["native"],
            "native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl": [],
            "native-1.0-cp311-cp311-win_amd64.whl": [],
            "native-1.0.tar.gz": [],
        }
    )
    everything = await _closure(index, "app", "1.0")
    assert sorted(f.filename for f in everything["native"].artifacts) == [
        "native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "native-1.0.tar.gz",
    ]
    wheels_only = await _closure(index, "app", "1.0", selection=Selection(False, False))
    assert [f.filename for f in wheels_only["native"].artifacts] == ["native-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"]


async def test_each_page_and_each_release_s_metadata_is_read_once() -> None:
    index = MemoryIndex(
        {
            "app-1.0-py3-none-any.whl": ["a", "b"],
            "a-1.0-py3-none-any.whl": ["c"],
            "b-1.0-py3-none-any.whl": ["c"],
            "c-1.0-py3-none-any.whl": [],
        }
    )
    closure = await _closure(index, "app", "1.0")
    assert sorted(closure["c"].required_by) == ["a", "b"]
    assert sorted(index.pages_read) == ["a", "app", "b", "c"]
    assert sorted(index.metadata_read) == sorted(index.files)


async def test_an_impossible_resolution_names_what_cannot_be_had() -> None:
    index = MemoryIndex({"app-1.0-py3-none-any.whl": ["lib>=5"], "lib-1.0-py3-none-any.whl": []})
    with pytest.raises(Conflict, match=r"no available release satisfies lib>=5"):
        await _closure(index, "app", "1.0")
    with pytest.raises(Conflict, match=r"no available release satisfies app==2\.0"):
        await _closure(index, "app", "2.0")


async def test_bad_input_is_a_bad_request() -> None:
    index = MemoryIndex({"app-1.0-py3-none-any.whl": ["not a requirement!"]})
    with pytest.raises(BadRequest, match="invalid requirement"):
        await _closure(index, "app", "1.0")
    with pytest.raises(BadRequest, match="Invalid version"):
        await _closure(index, "app", "one")
