"""A proxy's cold install against installing straight from its upstream, in one run.

The upstream is nginx serving a static Simple API tree (PEP 691 JSON or PEP 503 HTML by the
Accept header, PEP 658 metadata files beside the wheels) of the 22 wheels of sphinx's closure,
downloaded once into ``.cache/sphinx`` through pip's configured index. Qarion PyPI runs as
``qarion-pypi serve`` with one proxy repository per cold run, so every run starts from an empty
proxy cache. Each run is ``pip download sphinx`` into an empty directory with pip's cache off
(resolution through the metadata files, then every file fetched); the median of ``--runs`` is
reported for the upstream, the cold proxy and the same proxy warm, each once per round so the
machine's drift falls on all of them alike. Private repositories take the key in the index URL,
which costs pip itself time: they are compared with the upstream reached with credentials in its
URL too. Run by hand:

    apt-get install nginx
    .venv/bin/python benchmarks/proxy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from compare_pypiserver import API, CACHE, RESULTS, free_port, qarion, wait_for

CLOSURE = CACHE / "sphinx"
TOP = "sphinx"
KEYS = ("upstream", "proxy_cold", "proxy_warm", "upstream_key", "proxy_cold_key", "proxy_warm_key")


def closure_wheels() -> list[Path]:
    if not list(CLOSURE.glob("*.whl")):
        CLOSURE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(CLOSURE), TOP],
            check=True, timeout=300,
        )  # fmt: skip
    return sorted(CLOSURE.glob("*.whl"))


def static_tree(root: Path, wheels: list[Path]) -> None:
    """``simple/<name>/index.{html,json}`` and ``files/<wheel>{,.metadata}`` under ``root``."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        by_project.setdefault(wheel.name.split("-")[0].replace("_", "-").lower(), []).append(wheel)
    (root / "files").mkdir(parents=True)
    for name, files in by_project.items():
        entries = []
        for wheel in files:
            shutil.copy(wheel, root / "files" / wheel.name)
            with zipfile.ZipFile(wheel) as archive:
                metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
            (root / "files" / (wheel.name + ".metadata")).write_bytes(metadata)
            entries.append(
                (wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest(), hashlib.sha256(metadata).hexdigest())
            )
        page = root / "simple" / name
        page.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{f}#sha256={h}" data-core-metadata="sha256={m}" data-dist-info-metadata="sha256={m}">{f}</a>\n'
            for f, h, m in entries
        )
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
        document = {
            "meta": {"api-version": "1.1"}, "name": name,
            "files": [{"filename": f, "url": f"../../files/{f}", "hashes": {"sha256": h}, "core-metadata": {"sha256": m},
                       "size": (root / "files" / f).stat().st_size} for f, h, m in entries],
        }  # fmt: skip
        (page / "index.json").write_text(json.dumps(document))


_NGINX = """
worker_processes 1;
daemon off;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  types {{ application/octet-stream whl metadata; text/html html; application/vnd.pypi.simple.v1+json json; }}
  map $http_accept $simple_index {{ ~application/vnd\\.pypi\\.simple\\.v1\\+json index.json; default index.html; }}
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /simple/ {{ index $simple_index; }}
  }}
}}
"""


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    port = free_port()
    (root / "tmp").mkdir()
    conf = root / "nginx.conf"
    conf.write_text(_NGINX.format(root=root, port=port))
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)])
    try:
        wait_for(f"http://127.0.0.1:{port}/simple/{TOP}/")
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        process.terminate()
        process.wait(30)


def pip_download(index_url: str, scratch: Path) -> float:
    """Seconds for one ``pip download`` of the closure into an empty directory, no pip cache."""
    dest = Path(tempfile.mkdtemp(dir=scratch))
    env = {**os.environ, "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--index-url", index_url, "--dest", str(dest), TOP],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    count = len(list(dest.glob("*.whl")))
    shutil.rmtree(dest)
    if count != len(closure_wheels()):
        raise SystemExit(f"pip fetched {count} wheels from {index_url}, expected {len(closure_wheels())}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="rounds (one run of each case per round)")
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is required (apt-get install nginx)")
    wheels = closure_wheels()
    results: dict[str, object] = {"files": len(wheels)}
    with tempfile.TemporaryDirectory(prefix="qarion-proxy-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        os.chmod(scratch, 0o755)  # nginx's workers read the tree as another user
        static_tree(scratch / "upstream", wheels)
        with nginx(scratch / "upstream") as upstream:
            pip_download(upstream, scratch)  # warm-up: pip's own start, the page cache of the OS
            env = {"QARION_PYPI_OUTBOUND_ALLOW_PRIVATE": "true"}
            with (
                qarion(scratch / "qarion", env) as (base, key, _),
                httpx.Client(base_url=base + API, headers={"Authorization": f"Bearer {key}"}) as client,
            ):
                client.post("/spaces", json={"name": "Bench", "slug": "bench"}).raise_for_status()

                def cold_run(name: str, visibility: str) -> float:
                    client.post("/spaces/bench/package-repositories", json={
                        "name": name, "slug": name, "kind": "proxy", "remote_url": upstream, "cache_ttl": 3600,
                        "visibility": visibility,
                    }).raise_for_status()  # fmt: skip
                    return pip_download(index(name, visibility), scratch)

                def index(name: str, visibility: str) -> str:
                    netloc = base if visibility == "public" else base.replace("http://", f"http://__token__:{key}@")
                    return f"{netloc}{API}/pypi/spaces/bench/repositories/{name}/simple/"

                # Interleaved, round by round, so the machine's drift falls on every column alike.
                runs: dict[str, list[float]] = {key: [] for key in KEYS}
                for run in range(args.runs):
                    runs["upstream"].append(pip_download(upstream, scratch))
                    runs["proxy_cold"].append(cold_run(f"public{run}", "public"))
                    runs["proxy_warm"].append(pip_download(index("public0", "public"), scratch))
                    runs["upstream_key"].append(
                        pip_download(upstream.replace("http://", "http://user:secret@"), scratch)
                    )
                    runs["proxy_cold_key"].append(cold_run(f"private{run}", "private"))
                    runs["proxy_warm_key"].append(pip_download(index("private0", "private"), scratch))
                results.update(runs)
    report(results)


def report(results: dict[str, object]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"proxy-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    print(f"pip download of {TOP}'s closure ({results['files']} wheels), median of {len(results['upstream'])} runs")  # type: ignore[arg-type]
    rows = (
        ("upstream (nginx, static files)", "upstream", "upstream"),
        ("proxy, public repository, cold", "proxy_cold", "upstream"),
        ("proxy, public repository, warm", "proxy_warm", "upstream"),
        ("upstream, credentials in the URL", "upstream_key", "upstream_key"),
        ("proxy, private repository (key in the URL), cold", "proxy_cold_key", "upstream_key"),
        ("proxy, private repository (key in the URL), warm", "proxy_warm_key", "upstream_key"),
    )
    print("| index | seconds | vs upstream (same credentials) |\n| --- | --- | --- |")
    for label, key, against in rows:
        median = statistics.median(results[key])  # type: ignore[arg-type]
        print(f"| {label} | {median:.2f} | {median / statistics.median(results[against]):.2f}x |")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
