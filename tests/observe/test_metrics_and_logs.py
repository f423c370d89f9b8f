"""/metrics parsed with prometheus-client's own parser after a scripted workload, counts matching;
the request log in JSON, parsed line by line: a request id per line (the one the client sent, or
a new one returned as X-Request-ID), the route template, never a key or a query string."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import distbuilder as d
from tests.support.harness import LiveServer, live_server, make_repo

TOKEN = "metrics-token-for-tests"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("observe") / "data"
    with live_server(data, metrics_enabled="true", metrics_token=TOKEN, log_format="json", log_level="info") as running:
        yield running


def _samples(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with httpx.Client(base_url=server.url) as http:
        answer = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_scripted_workload(server: LiveServer) -> None:
    repo = make_repo(server)
    before = _samples(server)
    wheels = [d.wheel("counted", f"1.{n}") for n in range(3)]
    for n, wheel in enumerate(wheels):
        assert repo.upload(f"counted-1.{n}-py3-none-any.whl", wheel).status_code == 200
    with repo.raw("viewer") as http:
        page = http.get(repo.simple + "counted/", headers=JSON).json()
        for _ in range(2):
            assert http.get(repo.simple + "counted/", headers=JSON).status_code == 200
        for entry in page["files"][:2]:
            assert http.get(entry["url"]).status_code == 200
        assert http.get(page["files"][0]["url"] + ".metadata").status_code == 200
    after = _samples(server)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("qarion_uploads_total") == 3
    assert grew("qarion_upload_bytes_total") == sum(len(w) for w in wheels)
    assert grew("qarion_downloads_total", kind="file") == 2 and grew("qarion_downloads_total", kind="metadata") == 1
    assert grew("qarion_download_bytes_total") >= len(wheels[0]) + len(wheels[1])
    page_route = "/api/v1.0/pypi/spaces/{space_slug}/repositories/{repository_slug}/simple/{project}/"
    assert grew("qarion_http_requests_total", route=page_route, method="GET", status="200") == 3
    assert grew("qarion_http_request_duration_seconds_count", route=page_route, method="GET") == 3
    assert grew("qarion_page_cache_total", outcome="hit") >= 2  # the second and third page
    assert ("qarion_jobs", (("kind", "import"), ("status", "completed"))) not in after  # no such jobs ran


def test_metrics_count_upstream_errors_and_pool_waits(server: LiveServer) -> None:
    repo = make_repo(server)
    before = _samples(server)
    with repo.client() as api:  # an upstream nobody answers at (port 9, discard)
        proxy = api.post(f"/spaces/{repo.space}/package-repositories", json={
            "name": "Dead", "kind": "proxy", "remote_url": "http://127.0.0.1:9/simple/"}).json()  # fmt: skip
    with repo.raw("viewer") as http:
        assert http.get(proxy["simple_index_url"].removeprefix(server.url) + "anything/").status_code == 404
    wheels = [(f"crowd{n}-1.0-py3-none-any.whl", d.wheel(f"crowd{n}", "1.0")) for n in range(16)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:  # more callers than pooled connections
        assert all(r.status_code == 200 for r in pool.map(lambda w: repo.upload(*w), wheels))
        with repo.client() as api:  # listings read on the connections' threads, holding them meanwhile
            listings = pool.map(lambda _: api.get(f"{repo.manage}/packages").status_code, range(64))
            assert set(listings) == {200}
    after = _samples(server)
    assert _value(after, "qarion_upstream_errors_total") > _value(before, "qarion_upstream_errors_total")
    waits = "qarion_db_pool_wait_seconds_count"
    assert _value(after, waits) > _value(before, waits)


def test_metrics_need_the_token(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_one_json_line_per_request_with_its_id_and_no_secrets(server: LiveServer) -> None:
    repo = make_repo(server)
    with repo.raw("viewer") as http:
        mine = http.get(repo.simple + "?secret=hunter2", headers={"X-Request-ID": "report-42"})
        theirs = http.get(repo.simple + "nothing/")
        refused = http.get(f"/api/v1.0/spaces/{repo.space}/package-repositories/not-an-id")
    assert mine.headers["x-request-id"] == "report-42"
    generated = theirs.headers["x-request-id"]
    assert len(generated) == 32 and theirs.status_code == 404
    assert refused.json()["request_id"] == refused.headers["x-request-id"]  # errors carry it too
    assert server.log_path is not None
    text = server.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if "request_id" in line}
    assert requests["report-42"]["route"] == "/api/v1.0/pypi/spaces/{space_slug}/repositories/{repository_slug}/simple/"
    assert requests["report-42"]["status"] == 200 and requests["report-42"]["method"] == "GET"
    assert requests["report-42"]["principal"] not in ("", "-") and requests["report-42"]["duration_ms"] >= 0
    assert requests[generated]["status"] == 404
    assert requests[refused.headers["x-request-id"]]["status"] == 404
    assert "hunter2" not in text and repo.keys["viewer"] not in text and "secret=" not in text
    assert all(isinstance(line, dict) for line in lines) and any(
        line.get("logger") == "uvicorn.error" for line in lines
    )
