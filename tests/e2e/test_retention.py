"""Retention rules with a dry run, run on the job queue and recorded in the audit log; and the
queue's behaviour across a restart. Driven with plain HTTP calls, as curl would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import distbuilder as d
from tests.support.backends import StateReader
from tests.support.harness import Repo, TestServer, live_server, wait_for_job

pytestmark = pytest.mark.slow

RULES = [
    {"name": "prune-prereleases", "match_version_regex": "(rc|a|b|dev)[0-9]*$", "max_age_days": 30},
    {"name": "keep-3", "keep_latest": 3},
]


def _backdate(server: TestServer, filename: str, days: int) -> None:
    when = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
    updated = server.state.rows("UPDATE files SET created_at = ? WHERE filename = ? RETURNING id", when, filename)
    assert len(updated) == 1


def test_retention_dry_run_then_real_run(repo: Repo) -> None:
    for version in ("1.0", "1.1rc1", "1.2rc1", "2.0", "3.0"):
        assert repo.upload(f"demo-{version}-py3-none-any.whl", d.wheel(version=version)).status_code == 200
    assert repo.upload("oldie-0.1rc1-py3-none-any.whl", d.wheel("oldie", "0.1rc1")).status_code == 200
    _backdate(repo.server, "demo-1.1rc1-py3-none-any.whl", 40)
    _backdate(repo.server, "demo-1.2rc1-py3-none-any.whl", 10)
    _backdate(repo.server, "oldie-0.1rc1-py3-none-any.whl", 400)
    runs = f"{repo.manage}/retention/runs"
    with repo.client() as api:
        stored = api.put(f"{repo.manage}/retention-rules", json={"rules": RULES})
        assert stored.status_code == 200
        assert api.get(f"{repo.manage}/retention-rules").json()["rules"][0]["name"] == "prune-prereleases"

        queued = api.post(runs, json={})
        assert queued.status_code == 202
        dry = wait_for_job(api, f"{runs}/{queued.json()['job_id']}")
        assert dry["status"] == "completed" and dry["percent"] == 100 and dry["progress_events"]
        planned = {(r["package"], r["version"]): r for r in dry["result"]["releases"]}
        assert set(planned) == {("demo", "1.0"), ("demo", "1.1rc1"), ("oldie", "0.1rc1")}
        assert planned[("demo", "1.1rc1")]["rule"] == "prune-prereleases"
        assert planned[("demo", "1.0")]["rule"] == "keep-3"
        assert any("pinned installs (demo==1.0) will fail" in w for w in planned[("demo", "1.0")]["warnings"])
        assert "oldie would have no release left." in planned[("oldie", "0.1rc1")]["warnings"]
        assert dry["result"]["dry_run"] is True and dry["result"]["deleted_files"] == 0
        assert len(api.get(f"{repo.manage}/packages/demo").json()["files"]) == 5  # nothing went

        real = wait_for_job(api, f"{runs}/{api.post(runs, json={'dry_run': False}).json()['job_id']}")
        assert real["status"] == "completed" and real["result"]["deleted_files"] == 3
        assert api.get(f"{repo.manage}/packages/demo").json()["versions"] == ["3.0", "2.0", "1.2rc1"]
        assert api.get(f"{repo.manage}/packages/oldie").status_code == 404
        events = api.get("/admin/audit", params={"space": repo.space, "limit": 100}).json()
    actions = [e["action"] for e in events]
    assert actions.count("retention_delete") == 3 and actions.count("start_retention_run") == 2
    deletion = next(e for e in events if e["action"] == "retention_delete")
    assert deletion["actor"] and "by rule" in deletion["detail"]
    with repo.raw() as http:
        assert "demo-1.0-py3-none-any.whl" not in http.get(repo.simple + "demo/").text


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"name": "x", "match_version_regex": "(", "max_age_days": 1}], "rules[0].match_version_regex"),
        ([{"name": "x"}], "rules[0]"),
        ([{"name": "x", "keep_latest": -1}], "rules[0].keep_latest"),
        ([{"name": "x", "keep_latest": "3"}], "rules[0].keep_latest"),
        ([{"keep_latest": 3}], "rules[0].name"),
    ],
)
def test_rule_validation(repo: Repo, rules: list, field: str) -> None:
    with repo.client() as api:
        response = api.put(f"{repo.manage}/retention-rules", json={"rules": rules})
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_retention_needs_admin(repo: Repo) -> None:
    with repo.client("editor") as editor:
        assert editor.put(f"{repo.manage}/retention-rules", json={"rules": []}).status_code == 403
        started = editor.post(f"{repo.manage}/retention/runs", json={})
        assert started.status_code == 403 and "delete access" in started.json()["detail"]
    with repo.client() as api:
        assert api.get(f"{repo.manage}/retention/runs/{uuid.uuid4()}").status_code == 404


def test_jobs_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as first:
        key = first.admin_key
        with first.admin() as admin:
            admin.post("/spaces", json={"name": "S", "slug": "s"}).raise_for_status()
            repo_id = admin.post("/spaces/s/package-repositories", json={"name": "R"}).json()["id"]
    interrupted, queued = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).replace(tzinfo=None)
    for job_id, status in ((interrupted, "running"), (queued, "queued")):
        StateReader(data).execute(
            "INSERT INTO jobs (id, kind, repository_id, status, percent, phase, message, progress_events, params,"
            " created_at) VALUES (?, 'retention', ?, ?, 40, 'deleting', '', '[]', '{\"dry_run\": true}', ?)",
            job_id,
            repo_id,
            status,
            now,
        )
    with live_server(data, admin_key=key) as second, second.admin() as admin:
        runs = f"/spaces/s/package-repositories/{repo_id}/retention/runs"
        failed = wait_for_job(admin, f"{runs}/{interrupted}")
        assert failed["status"] == "failed" and failed["error_message"].startswith("Interrupted")
        assert wait_for_job(admin, f"{runs}/{queued}")["status"] == "completed"
