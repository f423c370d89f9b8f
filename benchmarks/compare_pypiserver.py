"""Load the same data into Qarion PyPI and pypiserver, then measure both in one run.

pypiserver runs in its best set-up: gunicorn, one gevent worker, the cached directory backend.
Qarion PyPI runs as ``qarion-pypi serve`` (one uvicorn process). Both serve from loopback; wrk
drives the read paths with 32 connections, and the project pages with 128 as well; at 128 the
pages are timed a second time by ``closed_loop.py`` (each request timed by the client itself),
because wrk's tail there does not match what the server sees. Run by hand (needs wrk and a venv
with pypiserver, gunicorn and gevent: see benchmarks/README.md):

    .venv/bin/python benchmarks/compare_pypiserver.py [--duration 10] [--skip-gib]

``--backend postgres-s3`` runs Qarion PyPI on PostgreSQL and a local S3 server instead of SQLite
and a blob directory (``scale_out.py``); ``--qarion-only`` leaves pypiserver out; ``--workers 2``
runs ``serve --workers 2`` (with ``--skip-gib``: the RSS measured would be the supervisor's).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import closed_loop
import httpx

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
PYPISERVER_VENV = HERE / ".venv-pypiserver"
RESULTS = HERE / "results"
API = "/api/v1.0"


# -- data -------------------------------------------------------------------------------------


def real_wheels(count: int = 200) -> list[Path]:
    """The newest universal wheel of real projects, downloaded once through the configured index."""
    target = CACHE / "real"
    target.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in (HERE / "real_projects.txt").read_text().splitlines() if n.strip() and not n.startswith("#")]
    for name in names:
        if len(list(target.glob("*.whl"))) >= count:
            break
        stem = name.replace("-", "_").lower()
        if any(p.name.lower().startswith(stem + "-") for p in target.glob("*.whl")):
            continue
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.11", "--dest", str(target), name],
            check=False, capture_output=True, timeout=120,
        )
    wheels = sorted(target.glob("*.whl"))[:count]
    if len(wheels) < count:
        raise SystemExit(f"only {len(wheels)} real wheels could be downloaded; {count} are needed")
    return wheels


def tiny_wheel(name: str, version: str, payload: bytes = b"", compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        archive.writestr(f"{module}/__init__.py", b"")
        if payload:
            archive.writestr(f"{module}/data.bin", payload)
        archive.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{dist_info}/RECORD", "")
    return buffer.getvalue()


def synthetic(directory: Path, names: list[str], payload: bytes = b"") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = directory / f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
        if not path.exists():
            path.write_bytes(tiny_wheel(name, "1.0", payload, zipfile.ZIP_STORED if payload else zipfile.ZIP_DEFLATED))
        paths.append(path)
    return paths


def gib_wheel(path: Path, size: int = 1024**3) -> Path:
    """A 1 GiB wheel: one stored member of random bytes, written in chunks."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("huge/__init__.py", b"")
        with archive.open("huge/data.bin", "w", force_zip64=True) as member:
            chunk = os.urandom(16 * 1024 * 1024)
            for _ in range(size // len(chunk)):
                member.write(chunk)
        archive.writestr("huge-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: huge\nVersion: 1.0\n")
        archive.writestr("huge-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("huge-1.0.dist-info/RECORD", "")
    return path


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


@contextmanager
def qarion(
    data: Path, backend: dict[str, str], workers: int = 1, tree: Path | None = None
) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """A server of this checkout's code, or of ``tree``'s (another checkout, e.g. a ``git
    worktree`` of an older commit). ``python -m`` puts its working directory first on the path,
    ahead of PYTHONPATH and of the editable install: the server runs from the tree it measures."""
    port, key = free_port(), "bench-" + secrets.token_hex(16)
    tree = (tree or HERE.parent).resolve()
    env = {**os.environ, **backend, "QARION_PYPI_ADMIN_KEY": key, "QARION_PYPI_LOG_LEVEL": "warning"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    command = ["serve", "--port", str(port), "--data-dir", str(data), "--workers", str(workers)]
    process = subprocess.Popen([sys.executable, "-m", "qarion_pypi", *command], env=env, cwd=tree)
    try:
        wait_for(f"http://127.0.0.1:{port}{API}/me")
        yield f"http://127.0.0.1:{port}", key, process
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def pypiserver(root: Path, durable: bool = False) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """pypiserver in its best set-up; ``durable``: with uploads synced as Qarion syncs a blob
    (``pypiserver_durable.py``)."""
    port = free_port()
    module = "pypiserver_durable" if durable else "pypiserver"
    factory = f"{module}:app(roots=[{str(root)!r}], backend_arg='cached-dir', authenticate=[], password_file='.')"
    process = subprocess.Popen(
        [str(PYPISERVER_VENV / "bin" / "gunicorn"), "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--pythonpath", str(HERE), "--log-level", "warning", factory]
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/simple/")
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(30)


async def _upload_all(base: str, key: str, repo_path: str, files: list[Path]) -> None:
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base + API, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:

        async def one(path: Path) -> None:
            async with limit:
                response = await client.post(f"{repo_path}/files", files={"file": (path.name, path.read_bytes())})
                if response.status_code not in (200, 201):
                    raise SystemExit(f"upload of {path.name} failed: {response.status_code} {response.text}")

        await asyncio.gather(*(one(p) for p in files))


def make_repository(base: str, key: str, slug: str) -> tuple[str, str]:
    with httpx.Client(base_url=base + API, headers={"Authorization": f"Bearer {key}"}) as client:
        if client.get("/spaces/bench").status_code != 200 and not any(s["slug"] == "bench" for s in client.get("/spaces").json()):
            client.post("/spaces", json={"name": "Bench", "slug": "bench"}).raise_for_status()
        created = client.post("/spaces/bench/package-repositories", json={"name": slug, "slug": slug})
        created.raise_for_status()
        return f"/spaces/bench/package-repositories/{created.json()['id']}", f"{API}/pypi/spaces/bench/repositories/{slug}"


# -- measurements -----------------------------------------------------------------------------

_LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {%s})
end
"""


def wrk(base: str, paths: list[str], duration: int, auth: str | None, workdir: Path, connections: int = 32) -> dict[str, float]:
    headers = f'["Authorization"] = "{auth}"' if auth else ""
    script = workdir / f"rotate-{secrets.token_hex(4)}.lua"
    script.write_text(_LUA % (", ".join(json.dumps(p) for p in paths), headers))
    # Warm-up pass, not measured: both servers fill their caches (pages, directory listings).
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d3s", "-s", str(script), base], capture_output=True, check=True)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), base],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"wrk saw {non_2xx.group(1)} error responses from {base}{paths[0]}\n{output}")
    latency = {p: _ms(v) for p, v in re.findall(r"\s(50|99)%\s+([\d.]+\w+)", output)}
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"]}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def twine_upload(url: str, files: list[Path], user: str, password: str) -> float:
    """Seconds for one ``twine upload`` of ``files`` into an empty target."""
    twine = Path(sys.executable).parent / "twine"
    started = time.perf_counter()
    subprocess.run(
        [str(twine), "upload", "--non-interactive", "--disable-progress-bar", "--repository-url", url, "-u", user,
         "-p", password, *map(str, files)],
        check=True, capture_output=True, env={**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"},
    )
    return time.perf_counter() - started


TWINE_RUNS = 3


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def upload_rss(pid: int, url: str, path: Path, user: str, password: str, field: str) -> dict[str, float]:
    baseline = rss_kib(pid)
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", f"{user}:{password}",
               "-F", ":action=file_upload", "-F", "protocol_version=1", "-F", f"{field}=@{path}", url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = baseline
    started = time.perf_counter()
    while process.poll() is None:
        peak = max(peak, rss_kib(pid))
        time.sleep(0.02)
    status = process.stdout.read() if process.stdout else ""
    return {"status": int(status or 0), "baseline_mib": baseline / 1024, "peak_mib": peak / 1024,
            "growth_mib": (peak - baseline) / 1024, "seconds": time.perf_counter() - started}


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--skip-gib", action="store_true", help="skip the 1 GiB upload")
    parser.add_argument("--backend", choices=("sqlite", "postgres-s3"), default="sqlite")
    parser.add_argument("--qarion-only", action="store_true", help="do not measure pypiserver")
    parser.add_argument("--workers", type=int, default=1, help="qarion-pypi serve --workers (default 1)")
    args = parser.parse_args()
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is required (apt-get install {tool})")
    if args.workers > 1 and not args.skip_gib:
        raise SystemExit("--workers above 1 needs --skip-gib: the 1 GiB upload's RSS would be the supervisor's")
    if not args.qarion_only and not (PYPISERVER_VENV / "bin" / "gunicorn").exists():
        raise SystemExit(f"create {PYPISERVER_VENV} first (see benchmarks/README.md)")

    real = real_wheels()
    many = synthetic(CACHE / "many", [f"proj-{i:04d}" for i in range(5000)])
    big = synthetic(CACHE / "big", ["bigfile"], payload=os.urandom(4 * 1024 * 1024))
    batch = synthetic(CACHE / "batch", [f"batch-{i:02d}" for i in range(50)], payload=os.urandom(100 * 1024))
    real_names = [re.sub(r"[-_.]+", "-", p.name.split("-")[0]).lower() for p in real]
    results: dict[str, dict[str, object]] = {"qarion": {}, "pypiserver": {}}

    with tempfile.TemporaryDirectory(prefix="qarion-bench-") as scratch_dir, ExitStack() as stack:
        scratch = Path(scratch_dir)
        backend: dict[str, str] = {}
        if args.backend == "postgres-s3":
            from scale_out import postgres_and_s3

            backend = stack.enter_context(postgres_and_s3(scratch))
        with qarion(scratch / "qarion", backend, workers=args.workers) as (base, key, process):
            slugs = ("real", "many", "big", "huge", *(f"batch{i}" for i in range(TWINE_RUNS)))
            repos = {slug: make_repository(base, key, slug) for slug in slugs}
            for slug, files in (("real", real), ("many", many), ("big", big)):
                asyncio.run(_upload_all(base, key, repos[slug][0], files))
            auth = "Basic " + __import__("base64").b64encode(f"__token__:{key}".encode()).decode()
            simple = repos["real"][1] + "/simple/"
            pages = [f"{simple}{n}/" for n in real_names]
            results["qarion"]["project_page"] = wrk(base, pages, args.duration, auth, scratch)
            results["qarion"]["project_page_128"] = wrk(base, pages, args.duration, auth, scratch, connections=128)
            results["qarion"]["project_page_128_timed"] = closed_loop.measure(base, pages, args.duration, auth)
            results["qarion"]["root_5000"] = wrk(base, [repos["many"][1] + "/simple/"], args.duration, auth, scratch)
            with httpx.Client(base_url=base, auth=("__token__", key)) as client:
                page = client.get(repos["big"][1] + "/simple/bigfile/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
                download = page.json()["files"][0]["url"]
            results["qarion"]["download_4mb"] = wrk(base, [download], args.duration, auth, scratch)
            runs = [twine_upload(base + repos[f"batch{i}"][1] + "/legacy/", batch, "__token__", key) for i in range(TWINE_RUNS)]
            results["qarion"]["twine_50_seconds"] = sorted(runs)[TWINE_RUNS // 2]
            if not args.skip_gib:
                huge = gib_wheel(scratch / "huge-1.0-py3-none-any.whl")
                results["qarion"]["upload_1gib"] = upload_rss(process.pid, base + repos["huge"][1] + "/legacy/", huge, "__token__", key, "content")

        if args.qarion_only:
            report(results)
            return
        for label, files in (("real", real), ("many", many), ("big", big)):
            (scratch / "pypi" / label).mkdir(parents=True)
            for path in files:
                shutil.copy(path, scratch / "pypi" / label / path.name)
        with pypiserver(scratch / "pypi" / "real") as (base, _):
            pages = [f"/simple/{n}/" for n in real_names]
            results["pypiserver"]["project_page"] = wrk(base, pages, args.duration, None, scratch)
            results["pypiserver"]["project_page_128"] = wrk(base, pages, args.duration, None, scratch, connections=128)
            results["pypiserver"]["project_page_128_timed"] = closed_loop.measure(base, pages, args.duration)
        with pypiserver(scratch / "pypi" / "many") as (base, _):
            results["pypiserver"]["root_5000"] = wrk(base, ["/simple/"], args.duration, None, scratch)
        with pypiserver(scratch / "pypi" / "big") as (base, _):
            results["pypiserver"]["download_4mb"] = wrk(base, [f"/packages/{big[0].name}"], args.duration, None, scratch)
        runs = []
        for i in range(TWINE_RUNS):
            (scratch / "pypi" / f"batch{i}").mkdir()
            with pypiserver(scratch / "pypi" / f"batch{i}") as (base, _):
                runs.append(twine_upload(base + "/", batch, "any", "any"))
        results["pypiserver"]["twine_50_seconds"] = sorted(runs)[TWINE_RUNS // 2]

    report(results)


def report(results: dict[str, dict[str, object]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"compare-{stamp}.json").write_text(json.dumps(results, indent=2))
    q, p = results["qarion"], results["pypiserver"]
    lines = ["| measurement | Qarion PyPI | pypiserver | ratio |", "| --- | --- | --- | --- |"]
    for name in ("project_page", "project_page_128", "project_page_128_timed", "root_5000", "download_4mb"):
        mine, theirs = q[name], p.get(name)
        line = f"| {name} req/s (p50 / p99 ms) | {mine['rps']:.0f} ({mine['p50_ms']:.1f} / {mine['p99_ms']:.1f}) | "  # type: ignore[index]
        if theirs is not None:
            line += f"{theirs['rps']:.0f} ({theirs['p50_ms']:.1f} / {theirs['p99_ms']:.1f}) | {mine['rps'] / theirs['rps']:.1f}x |"  # type: ignore[index]
        lines.append(line if theirs is not None else line + " | |")
    theirs_twine = f"{p['twine_50_seconds']:.2f} | {p['twine_50_seconds'] / q['twine_50_seconds']:.2f}x" if p else " | "  # type: ignore[operator]
    lines.append(f"| twine upload of 50 wheels (s) | {q['twine_50_seconds']:.2f} | {theirs_twine} |")
    if "upload_1gib" in q:
        gib = q["upload_1gib"]
        lines.append(f"| 1 GiB upload: RSS growth (baseline → peak), time | {gib['growth_mib']:.1f} MiB "  # type: ignore[index]
                     f"({gib['baseline_mib']:.0f} → {gib['peak_mib']:.0f} MiB), {gib['seconds']:.1f} s, HTTP {gib['status']} | | |")  # type: ignore[index]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
