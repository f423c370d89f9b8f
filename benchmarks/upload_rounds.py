"""twine uploads of 50 wheels, alternating between code trees and pypiserver, round after round.

This machine's speed drifts from minute to minute (the same code's twine time moves by a fifth
within an hour), so one run of each says little about a change of a few percent; alternating
puts the drift on every variant alike. In each round every variant gets a fresh server, five
other wheels uploaded to warm it, then ``twine upload`` of the same 50 wheels of 100 KiB into an
empty repository (pypiserver, in its best set-up as in ``compare_pypiserver.py``, has one
directory: it holds the five).
Reported per variant: the median twine time, and the server's CPU time (user and system, the
process and its children) per upload during the timed run.

    .venv/bin/python benchmarks/upload_rounds.py [--rounds 8] [--tree PATH ...] [--no-pypiserver]
        [--durable-pypiserver]

``--tree`` names a checkout whose ``qarion_pypi`` the server runs (from that directory, so that its
package comes first), e.g. a ``git worktree`` of the previous release; without it, this checkout
only. ``--durable-pypiserver`` adds pypiserver with its uploads synced as Qarion syncs a blob (a
temporary file synced, renamed into place, its directory synced: ``pypiserver_durable.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compare_pypiserver import (
    CACHE,
    PYPISERVER_VENV,
    RESULTS,
    make_repository,
    pypiserver,
    qarion,
    synthetic,
    twine_upload,
)

HERE = Path(__file__).resolve().parent
PYPISERVER = "pypiserver"
PYPISERVER_DURABLE = "pypiserver-durable"  # uploads synced as a blob is (pypiserver_durable.py)


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and its children (gunicorn's worker), so far."""
    total = 0.0
    for process in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == pid:
            found += [int(entry.name), *_children(int(entry.name))]
    return found


@contextmanager
def target(variant: str, scratch: Path) -> Iterator[tuple[str, str, str, str, int]]:
    """(warm-up URL, timed URL, user, password, server pid) of a fresh server for ``variant``."""
    if variant in (PYPISERVER, PYPISERVER_DURABLE):
        with pypiserver(scratch, durable=variant == PYPISERVER_DURABLE) as (base, process):
            yield base + "/", base + "/", "any", "any", process.pid
        return
    with qarion(scratch / "data", {}, tree=Path(variant)) as (base, key, process):
        warm, timed = (base + make_repository(base, key, slug)[1] + "/legacy/" for slug in ("warm", "timed"))
        yield warm, timed, "__token__", key, process.pid


def rounds_and_variants(description: str | None) -> tuple[int, list[str]]:
    """The command line shared with ``upload_latency.py``: how many rounds, and the variants (code
    trees, then pypiserver unless left out)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to run (repeatable)")
    parser.add_argument("--no-pypiserver", action="store_true")
    parser.add_argument(
        "--durable-pypiserver", action="store_true", help="also pypiserver, its uploads synced (pypiserver_durable.py)"
    )
    args = parser.parse_args()
    variants = [str(tree.resolve()) for tree in args.tree or [HERE.parent]]
    for tree in variants:
        if not (Path(tree) / "qarion_pypi").is_dir():
            raise SystemExit(f"{tree} has no qarion_pypi package")
    if not args.no_pypiserver:
        if not (PYPISERVER_VENV / "bin" / "gunicorn").exists():
            raise SystemExit(f"create {PYPISERVER_VENV} first (see benchmarks/README.md), or pass --no-pypiserver")
        variants.append(PYPISERVER)
        if args.durable_pypiserver:
            variants.append(PYPISERVER_DURABLE)
    return args.rounds, variants


def wheels() -> tuple[list[Path], list[Path]]:
    """(the 50 timed wheels of 100 KiB, the five that warm a server up)."""
    payload = os.urandom(100 * 1024)
    batch = synthetic(CACHE / "batch", [f"batch-{i:02d}" for i in range(50)], payload=payload)
    return batch, synthetic(CACHE / "warm", [f"warm-{i}" for i in range(5)], payload=payload)


def servers(rounds: int, variants: list[str]) -> Iterator[tuple[int, str, tuple[str, str, str, str, int]]]:
    """(round, variant, ``target``'s server) for every variant in every round, in that order: a
    fresh server each time, in a scratch directory of its own (shared with ``upload_latency.py``)."""
    with tempfile.TemporaryDirectory(prefix="qarion-rounds-") as scratch_dir:
        for round_ in range(rounds):
            for index, variant in enumerate(variants):
                scratch = Path(scratch_dir) / f"{round_}-{index}"
                scratch.mkdir()
                with target(variant, scratch) as server:
                    yield round_, variant, server


def main() -> int:
    rounds, variants = rounds_and_variants(__doc__)
    batch, warm_up = wheels()
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu_ms: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_, variant, (warm, timed, user, password, pid) in servers(rounds, variants):
        twine_upload(warm, warm_up, user, password)
        before = cpu_seconds(pid)
        seconds[variant].append(twine_upload(timed, batch, user, password))
        cpu_ms[variant].append((cpu_seconds(pid) - before) / len(batch) * 1000)
        if variant == variants[-1]:
            print(f"round {round_ + 1}: " + ", ".join(f"{seconds[v][-1]:.3f} s" for v in variants), flush=True)
    report = {
        variant: {
            "twine_50_seconds": seconds[variant],
            "median_seconds": statistics.median(seconds[variant]),
            "server_cpu_ms_per_upload": statistics.median(cpu_ms[variant]),
        }
        for variant in variants
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"upload-rounds-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(report, indent=2))
    print("| variant | twine, 50 wheels (median) | runs | server CPU per upload |")
    print("| --- | --- | --- | --- |")
    for variant, figures in report.items():
        runs = " ".join(f"{value:.2f}" for value in seconds[variant])
        cpu = figures["server_cpu_ms_per_upload"]
        print(f"| {variant} | {figures['median_seconds']:.3f} s | {runs} | {cpu:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
