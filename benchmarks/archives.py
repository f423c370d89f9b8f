"""Reading an upload's core metadata out of its archive: the median time per archive, per code tree.

Every upload is read this way before it is kept (members checked for unsafe paths, compression
and size, then METADATA or PKG-INFO read), in a worker thread that holds the GIL for the Python
part, so the time is also time the event loop waits. Archives, made once in ``.cache/archives``:

- a wheel of 100 KiB with five members (the wheels of ``upload_rounds.py``);
- a wheel of 3,000 small modules (large real wheels hold thousands of files);
- an sdist of 500 files.

    .venv/bin/python benchmarks/archives.py [--tree PATH ...] [--runs 50]

``--tree`` names a checkout whose ``qarion_pypi`` is measured (in a process of its own, started in
that directory), e.g. a ``git worktree`` of the previous release; without it, this checkout only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "archives"

_MEASURE = """
import json, statistics, sys, time
from pathlib import Path
from qarion_pypi.config import Settings
from qarion_pypi.distributions.archives import ArchiveLimits, read_core_metadata
from qarion_pypi.distributions.filenames import parse_dist_filename
limits = ArchiveLimits.of(Settings())
runs = int(sys.argv[1])
result = {}
for name in sys.argv[2:]:
    path = Path(name)
    dist = parse_dist_filename(path.name)
    read_core_metadata(path, dist, limits)  # warm: imports, the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read_core_metadata(path, dist, limits)
        times.append(time.perf_counter() - started)
    result[path.name] = statistics.median(times)
print(json.dumps(result))
"""


def _metadata(name: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: a benchmark archive\n"


def _wheel(path: Path, name: str, members: dict[str, bytes]) -> Path:
    if not path.exists():
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
            archive.writestr(f"{name}-1.0.dist-info/METADATA", _metadata(name))
            archive.writestr(f"{name}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
            archive.writestr(f"{name}-1.0.dist-info/RECORD", "")
    return path


def _sdist(path: Path, name: str, files: int) -> Path:
    if not path.exists():
        with tarfile.open(path, "w:gz") as archive:
            members = {f"{name}-1.0/PKG-INFO": _metadata(name).encode()}
            members.update({f"{name}-1.0/{name}/mod_{i}.py": b"x = 1\n" * 20 for i in range(files)})
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def archives() -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    small = {"small/__init__.py": b"", "small/data.bin": os.urandom(100 * 1024)}
    many = {f"many/sub{i % 30}/mod_{i}.py": b"x = 1\n" for i in range(3000)}
    return [
        _wheel(CACHE / "small-1.0-py3-none-any.whl", "small", small),
        _wheel(CACHE / "many-1.0-py3-none-any.whl", "many", many),
        _sdist(CACHE / "source-1.0.tar.gz", "source", 500),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to measure (repeatable)")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [HERE.parent]]
    paths = archives()
    print("| tree | " + " | ".join(path.name for path in paths) + " |")
    print("| --- |" + " --- |" * len(paths))
    for tree in trees:
        if not (tree / "qarion_pypi").is_dir():
            raise SystemExit(f"{tree} has no qarion_pypi package")
        # ``python -c`` puts its working directory first on the path, ahead of PYTHONPATH and of
        # the editable install: the measurement runs in the tree it measures.
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, "-c", _MEASURE, str(args.runs), *map(str, paths)]
        done = subprocess.run(command, env=env, cwd=tree, check=True, capture_output=True, text=True)
        measured = json.loads(done.stdout)
        print(f"| {tree} | " + " | ".join(f"{measured[path.name] * 1000:.2f} ms" for path in paths) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
