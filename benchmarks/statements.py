"""What a statement costs through the ``Database`` facade on SQLite, per code tree: the median of
many calls, in microseconds, on uvloop as the server runs them.

- a quick indexed read (``quick=True``: on the event loop's thread);
- the same read on the connection's thread (a trip there and back);
- BEGIN (a writer's turn), a statement inside the write transaction, and COMMIT.

    .venv/bin/python benchmarks/statements.py [--tree PATH ...] [--calls 2000]

``--tree`` names a checkout to measure (in a process of its own, started in that directory so
that its package comes first), e.g. a ``git worktree`` of the previous release; without it, this
checkout only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_MEASURE = """
import asyncio, json, statistics, sys, tempfile, time
import sqlalchemy as sa, uvloop
from qarion_pypi.db.database import Database
from qarion_pypi.db import tables as t

QUERY = sa.select(t.schema_info.c.value).where(t.schema_info.c.key == sa.bindparam("key"))
calls = int(sys.argv[1])


async def main():
    result = {}
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite:///{directory}/bench.db")
        await db.connect()
        await db.create_schema()
        for label, quick in (("quick read", True), ("read on the connection's thread", False)):
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await db.fetch_one(QUERY, {"key": "version"}, quick=quick)
                times.append(time.perf_counter() - started)
            result[label] = statistics.median(times)
        begins, statements, commits = [], [], []
        for _ in range(calls // 5):
            started = time.perf_counter()
            async with db.transaction():
                began = time.perf_counter()
                for _ in range(5):
                    await db.fetch_one(QUERY, {"key": "version"})
                done = time.perf_counter()
            begins.append(began - started)
            statements.append((done - began) / 5)
            commits.append(time.perf_counter() - done)
        result["BEGIN"] = statistics.median(begins)
        result["statement in a write transaction"] = statistics.median(statements)
        result["COMMIT"] = statistics.median(commits)
        await db.disconnect()
    print(json.dumps(result))


uvloop.run(main())
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to measure (repeatable)")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    measured = {}
    for tree in [tree.resolve() for tree in args.tree or [HERE.parent]]:
        if not (tree / "qarion_pypi").is_dir():
            raise SystemExit(f"{tree} has no qarion_pypi package")
        command = [sys.executable, "-c", _MEASURE, str(args.calls)]
        done = subprocess.run(command, cwd=tree, check=True, capture_output=True, text=True)
        measured[str(tree)] = json.loads(done.stdout)
    labels = list(next(iter(measured.values())))
    print("| tree | " + " | ".join(labels) + " |")
    print("| --- |" + " --- |" * len(labels))
    for tree, figures in measured.items():
        print(f"| {tree} | " + " | ".join(f"{figures[label] * 1e6:.1f} us" for label in labels) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
