"""The dependency closure of one exact release, for a target, resolved with resolvelib.

resolvelib is synchronous, so it runs in a worker thread; its provider reads the upstream
(project pages, core metadata) through the async client with ``anyio.from_thread.run``. Each
project page and each release's metadata is fetched once per resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
import anyio.to_thread
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import ResolutionError, ResolutionImpossible

from qarion_pypi.distributions.filenames import parse_dist_filename
from qarion_pypi.errors import BadRequest, Conflict
from qarion_pypi.resolver.target import Target
from qarion_pypi.simple.model import FileEntry

MAX_ROUNDS = 2000

# The upstream, as the resolver needs it: a project's files (None if unknown), a file's metadata.
PageReader = Callable[[NormalizedName], Any]
MetadataReader = Callable[[FileEntry], Any]


@dataclass(frozen=True)
class Candidate:
    name: NormalizedName
    version: Version
    files: tuple[FileEntry, ...]
    extras: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return _key(self.name, self.extras)


@dataclass
class Release:
    """One resolved release: the artifacts selected for the target."""

    name: NormalizedName
    version: Version
    artifacts: list[FileEntry]
    required_by: list[str] = field(default_factory=list)
    candidate_files: tuple[FileEntry, ...] = ()  # every usable file of the release


@dataclass(frozen=True)
class Selection:
    include_sdists: bool
    include_universal_wheels: bool

    def artifacts(self, target: Target, files: Sequence[FileEntry]) -> list[FileEntry]:
        """The best compatible wheel, plus universal wheels and the sdist as requested."""
        ranked = []
        chosen: list[FileEntry] = []
        for entry in files:
            dist = parse_dist_filename(entry.filename)
            if dist.distribution_type == "sdist":
                if self.include_sdists:
                    chosen.append(entry)
                continue
            rank = target.rank(dist.tags)
            if rank is None:
                continue
            ranked.append((rank, entry))
            if self.include_universal_wheels and all(t.platform == "any" for t in dist.tags):
                chosen.append(entry)
        if ranked:
            chosen.append(min(ranked, key=lambda pair: pair[0])[1])
        return list(dict.fromkeys(chosen))


def _key(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


class _Provider(AbstractProvider):  # type: ignore[type-arg]
    def __init__(self, target: Target, selection: Selection, pages: PageReader, metadata: MetadataReader) -> None:
        self.target, self.selection, self._pages, self._metadata = target, selection, pages, metadata
        self._page_cache: dict[str, list[FileEntry] | None] = {}
        self._dependency_cache: dict[tuple[str, Version], list[Requirement]] = {}

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            return requirement_or_candidate.key
        return _key(canonicalize_name(requirement_or_candidate.name), frozenset(requirement_or_candidate.extras))

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Any:
        """Fewest candidates first: the usual way to fail fast."""
        return sum(1 for _ in candidates[identifier])

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Requirement]],
                     incompatibilities: Mapping[str, Iterator[Candidate]]) -> Iterable[Candidate]:  # fmt: skip
        wanted = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = canonicalize_name(wanted[0].name)
        extras = frozenset(e for r in wanted for e in r.extras)
        found = []
        for version, files in self._releases(name).items():
            if version in bad or not all(r.specifier.contains(version, prereleases=True) for r in wanted):
                continue
            pinned = all(_pins(r, version) for r in wanted)
            if version.is_prerelease and not pinned and not any(r.specifier.prereleases for r in wanted):
                continue
            usable = [f for f in files if (f.yanked is False or pinned) and self._python_ok(f)]
            if self.selection.artifacts(self.target, usable):
                found.append(Candidate(name, version, tuple(usable), extras))
        return sorted(found, key=lambda c: c.version, reverse=True)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return canonicalize_name(requirement.name) == candidate.name and requirement.specifier.contains(
            candidate.version, prereleases=True
        )

    def get_dependencies(self, candidate: Candidate) -> Iterable[Requirement]:
        requirements = self._requirements(candidate)
        result = []
        if candidate.extras:  # an extra depends on its own base release, exactly
            result.append(Requirement(f"{candidate.name}=={candidate.version}"))
        for requirement in requirements:
            if candidate.extras:  # only what the extras add (markers naming one of them)
                applies = requirement.marker is not None and any(
                    requirement.marker.evaluate({**self.target.environment, "extra": extra})
                    for extra in candidate.extras
                )
            else:
                applies = requirement.marker is None or requirement.marker.evaluate(
                    {**self.target.environment, "extra": ""}
                )
            if applies:
                result.append(requirement)
        return result

    def _requirements(self, candidate: Candidate) -> list[Requirement]:
        cache_key = (candidate.name, candidate.version)
        if cache_key not in self._dependency_cache:
            best = self.selection.artifacts(self.target, candidate.files) or list(candidate.files)
            wheels_first = sorted(best, key=lambda f: not f.filename.endswith(".whl"))
            raw = anyio.from_thread.run(self._metadata, wheels_first[0])
            parsed = []
            for text in raw:
                try:
                    parsed.append(Requirement(text))
                except InvalidRequirement:
                    raise BadRequest(
                        f"{candidate.name} {candidate.version} has an invalid requirement: {text!r}"
                    ) from None
            self._dependency_cache[cache_key] = parsed
        return self._dependency_cache[cache_key]

    def _releases(self, name: NormalizedName) -> dict[Version, list[FileEntry]]:
        if name not in self._page_cache:
            self._page_cache[name] = anyio.from_thread.run(self._pages, name)
        releases: dict[Version, list[FileEntry]] = {}
        for entry in self._page_cache[name] or []:
            try:
                version = parse_dist_filename(entry.filename).version
            except BadRequest:
                continue
            releases.setdefault(version, []).append(entry)
        return releases

    def _python_ok(self, entry: FileEntry) -> bool:
        if not entry.requires_python:
            return True
        try:
            return SpecifierSet(entry.requires_python).contains(self.target.environment["python_full_version"])
        except ValueError:
            return True  # an unreadable Requires-Python does not hide a file (pip does the same)


def _pins(requirement: Requirement, version: Version) -> bool:
    """PEP 592: a yanked file is only chosen for an exact ``==`` pin."""
    return any(s.operator in ("==", "===") and "*" not in s.version and Version(s.version) == version
               for s in requirement.specifier)  # fmt: skip


async def resolve(name: str, version: str, target: Target, selection: Selection,
                  pages: PageReader, metadata: MetadataReader) -> list[Release]:  # fmt: skip
    """Every release in the closure of ``name==version`` (the root first), with its artifacts."""
    try:
        root_version = Version(version)
    except InvalidVersion:
        raise BadRequest(f"Invalid version {version!r}.") from None
    root = Requirement(f"{canonicalize_name(name)}=={root_version}")
    try:
        releases = await resolve_requirements([root], target, selection, pages, metadata)
    except Conflict as exc:
        raise Conflict(
            f"The dependencies of {name} {version} cannot be resolved for this target: {exc.detail}"
        ) from None
    return sorted(releases, key=lambda r: (r.name != root.name, r.name))


async def resolve_requirements(requirements: Sequence[Requirement], target: Target, selection: Selection,
                               pages: PageReader, metadata: MetadataReader,
                               required_by: str | None = None) -> list[Release]:  # fmt: skip
    """Every release that satisfying ``requirements`` together brings in, by name.

    ``required_by`` names whatever asked for the top-level requirements (a file being scanned).
    """
    provider = _Provider(target, selection, pages, metadata)

    def run() -> Any:
        return Resolver(provider, BaseReporter()).resolve(list(requirements), max_rounds=MAX_ROUNDS)

    try:
        result = await anyio.to_thread.run_sync(run)
    except ResolutionImpossible as exc:
        wanted = sorted({str(cause.requirement) for cause in exc.causes})
        raise Conflict("no available release satisfies " + ", ".join(wanted)) from None
    except ResolutionError as exc:
        raise Conflict(f"the resolution did not settle ({exc.__class__.__name__})") from None
    releases: dict[tuple[str, Version], Release] = {}
    for candidate in result.mapping.values():
        key = (candidate.name, candidate.version)
        if key not in releases:
            artifacts = selection.artifacts(target, candidate.files)
            releases[key] = Release(candidate.name, candidate.version, artifacts, candidate_files=candidate.files)
    for parent, child in ((p, c) for p in result.graph for c in result.graph.iter_children(p)):
        parent_name = parent.split("[")[0] if parent is not None else required_by
        child_candidate = result.mapping[child]
        entry = releases[(child_candidate.name, child_candidate.version)]
        if parent_name is not None and parent_name != child_candidate.name and parent_name not in entry.required_by:
            entry.required_by.append(parent_name)
    return sorted(releases.values(), key=lambda r: r.name)
