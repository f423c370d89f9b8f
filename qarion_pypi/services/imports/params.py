"""What an import or a dependency preview is asked to do, typed once for both and for the job row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from qarion_pypi.resolver.closure import Selection
from qarion_pypi.resolver.target import Target, target_from


@dataclass(frozen=True)
class Artifact:
    normalized_name: NormalizedName
    version: str
    filename: str


@dataclass(frozen=True)
class ImportParams:
    package_name: str
    version: str
    python_tags: tuple[str, ...]
    platform_tags: tuple[str, ...] = ()
    selected_filenames: tuple[str, ...] = ()  # empty: the root files fitting the target
    include_sdists: bool = True
    include_universal_wheels: bool = True
    include_dependencies: bool = True
    include_all_dependencies: bool = False
    selected_dependency_artifacts: tuple[Artifact, ...] = ()  # empty: every resolved artifact

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ImportParams:
        """From a validated request payload, or a job row's params."""
        artifacts = tuple(
            Artifact(canonicalize_name(a["normalized_name"]), a["version"], a["filename"])
            for a in params.get("selected_dependency_artifacts") or ()
        )
        return cls(
            package_name=params["package_name"],
            version=params["version"],
            python_tags=tuple(params["python_tags"]),
            platform_tags=tuple(params.get("platform_tags") or ()),
            selected_filenames=tuple(params.get("selected_filenames") or ()),
            include_sdists=params.get("include_sdists", True),
            include_universal_wheels=params.get("include_universal_wheels", True),
            include_dependencies=params.get("include_dependencies", True),
            include_all_dependencies=params.get("include_all_dependencies", False),
            selected_dependency_artifacts=artifacts,
        )

    def as_params(self) -> dict[str, Any]:
        """JSON for the job row."""
        document = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in document.items()}

    @property
    def target(self) -> Target:
        """The environment the tags describe; 422 when they describe none."""
        return target_from(list(self.python_tags), list(self.platform_tags))

    @property
    def selection(self) -> Selection:
        return Selection(self.include_sdists, self.include_universal_wheels)

    @property
    def named_dependencies(self) -> set[NormalizedName]:
        return {artifact.normalized_name for artifact in self.selected_dependency_artifacts}
