"""``qarion-pypi load`` throughput: N small wheels (default 2,000, about 1 KiB each, in a nested
pypiserver-style directory) loaded into an empty hosted repository of a fresh data dir; prints
the command's own summary and the wheels per second including the process's start-up.

    .venv/bin/python benchmarks/load.py --files 2000
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ADMIN_KEY = "benchmark-admin-key"


def wheel(name: str, version: str) -> bytes:
    dist_info = f"{name}-{version}.dist-info"
    members = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: s\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/RECORD": b"",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def qarion(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qarion_pypi", *args], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        packages = root / "packages"
        for n in range(args.files):
            name = f"pkg{n % 200:03d}"
            folder = packages / name  # pypiserver's nested layout
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}-1.{n // 200}-py3-none-any.whl").write_bytes(wheel(name, f"1.{n // 200}"))
        data = root / "data"
        env = {**os.environ, "QARION_PYPI_ADMIN_KEY": ADMIN_KEY}
        script = (
            "import anyio, sys\n"
            "from qarion_pypi.app import build_context, open_context\n"
            "from qarion_pypi.config import load_settings\n"
            "from qarion_pypi.services.accounts import spaces, users\n"
            "from qarion_pypi.services.catalog import repositories\n"
            "async def main():\n"
            f"    ctx = build_context(load_settings(overrides={{'data_dir': {str(data)!r}}}))\n"
            "    await open_context(ctx)\n"
            "    admin = await users.principal_of(ctx, (await users.require_user(ctx, 'admin'))['id'])\n"
            "    space = await spaces.create_space(ctx, admin, 'Bench', 'bench')\n"
            "    await repositories.create_repository(ctx, admin, space, {'name': 'Repo', 'slug': 'repo'})\n"
            "    await ctx.db.disconnect()\n"
            "anyio.run(main)\n"
        )
        subprocess.run([sys.executable, "-c", script], env=env, check=True)
        started = time.monotonic()
        done = qarion("load", str(packages), "--space", "bench", "--repository", "repo", "--jobs", str(args.jobs),
                      "--data-dir", str(data), env=env)  # fmt: skip
        seconds = time.monotonic() - started
    print(done.stdout.strip().splitlines()[-1])
    print(f"{args.files} wheels in {seconds:.2f} s including start-up: {args.files / seconds:.0f} wheels/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
