"""Running the real clients (build, twine, pip, uv) in isolation from this machine's config."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import uv

BIN = Path(sys.executable).parent


def isolated_env(home: Path) -> dict[str, str]:
    """No global pip/uv/twine configuration, no keyring, a private HOME and caches."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "QARION_PYPI_")) and k not in {"NETRC"}
    }
    home.mkdir(parents=True, exist_ok=True)
    environ.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(home / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        XDG_CONFIG_HOME=str(home / ".config"),
    )
    return environ


@dataclass
class Clients:
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)  # credentials, say
    # uv project commands read [[tool.uv.index]] from pyproject.toml, which UV_NO_CONFIG would
    # hide; then only user and system uv.toml files are kept away (an empty XDG_CONFIG_DIRS).
    uv_project_config: bool = False

    def run(self, *args: str | Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        environ = {**isolated_env(self.home), **self.extra_env}
        if self.uv_project_config:
            del environ["UV_NO_CONFIG"]
            environ["XDG_CONFIG_DIRS"] = str(self.home / "xdg-config-dirs")
        result = subprocess.run([str(a) for a in args], env=environ, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def pip(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "pip", *args, check=check)

    def uv(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(uv.find_uv_bin(), *args, check=check)

    def twine(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(BIN / "twine", *args, check=check)

    def twine_upload(
        self, url: str, key: str, *args: str | Path, check: bool = True, username: str = "__token__"
    ) -> subprocess.CompletedProcess[str]:
        """``twine upload`` to ``url`` with an API key, never prompting; ``args``: flags and files."""
        options = ("--non-interactive", "--disable-progress-bar", "--repository-url", url, "-u", username, "-p", key)
        return self.twine("upload", *options, *args, check=check)

    def build(self, project: Path, outdir: Path) -> list[Path]:
        self.run(sys.executable, "-m", "build", "--no-isolation", "--outdir", outdir, project)
        return sorted(outdir.iterdir())


def make_project(
    root: Path, name: str, version: str, *, dependencies: tuple[str, ...] = (), extra_file: str = ""
) -> Path:
    """A tiny flit project; ``extra_file`` changes the bytes without changing name or version."""
    module = name.replace("-", "_")
    project = root / f"{name}-{version}-src"
    (project / module).mkdir(parents=True, exist_ok=True)
    (project / module / "__init__.py").write_text(f'"""{name}"""\n\n__version__ = "{version}"\n')
    if extra_file:
        (project / module / "extra.py").write_text(extra_file)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["flit_core>=3.9,<4"]
            build-backend = "flit_core.buildapi"

            [project]
            name = "{name}"
            version = "{version}"
            description = "The {name} test package"
            requires-python = ">=3.8"
            dependencies = [{deps}]
            """
        )
    )
    return project
