"""A small organisation built with plain HTTP calls, then real twine and pip proving the rules.

Two spaces; a team; a project scope that grants the team publish and hides itself from plain
space members; a space-wide and a project-scoped repository. Each user then does exactly what
the rules allow, and a user with no access sees the same 404 as for a missing thing.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.clients import Clients, make_project
from tests.support.harness import LiveServer

pytestmark = pytest.mark.slow


def _key(admin: httpx.Client, username: str) -> str:
    admin.post("/users", json={"username": username}).raise_for_status()
    return admin.post(f"/users/{username}/api-keys", json={"name": "laptop"}).json()["key"]


def test_an_organisation_end_to_end(live: LiveServer, tmp_path: Path) -> None:
    server = live
    tag = server.unique("org")
    platform = server.admin()
    users = {name: f"{name}-{tag}" for name in ("lead", "dev", "reader", "stranger")}
    keys = {name: _key(platform, username) for name, username in users.items()}

    # two spaces; the lead administers "data", the reader may view it; "ops" is someone else's
    for space in (f"data-{tag}", f"ops-{tag}"):
        platform.post("/spaces", json={"name": space, "slug": space}).raise_for_status()
    data = f"/spaces/data-{tag}"
    platform.put(f"{data}/members/{users['lead']}", json={"role": "admin"}).raise_for_status()
    platform.put(f"{data}/members/{users['reader']}", json={"role": "viewer"}).raise_for_status()
    team = platform.post("/teams", json={"name": f"Builders {tag}"}).json()
    platform.put(f"/teams/{team['slug']}/members/{users['dev']}").raise_for_status()

    lead = server.client(keys["lead"])
    scope = lead.post(f"{data}/package-repositories/project-scopes", json={"name": "Pipelines"}).json()
    lead.put(
        f"{data}/package-repositories/project-scopes/{scope['id']}/access",
        json={"space_member_access_level": "none",
              "grants": [{"principal_type": "team", "principal_id": team["id"], "access_level": "publish"}]},
    ).raise_for_status()  # fmt: skip
    shared = lead.post(f"{data}/package-repositories", json={"name": "Shared"}).json()
    scoped = lead.post(
        f"{data}/package-repositories", json={"name": "Tools", "project_scope_slug": scope["slug"]}
    ).json()

    clients = Clients(tmp_path / "home")
    dist = clients.build(make_project(tmp_path, "pipeline-kit", "1.0"), tmp_path / "dist")
    shared_dist = clients.build(make_project(tmp_path, "shared-lib", "1.0"), tmp_path / "shared-dist")

    def twine(repo: dict, who: str, files: list[Path]) -> bool:
        result = clients.twine_upload(repo["upload_url"], keys[who], *files, check=False)
        return result.returncode == 0

    def pip_install(repo: dict, who: str, name: str) -> bool:
        host = server.url.removeprefix("http://")
        index = repo["simple_index_url"].replace(f"http://{host}", f"http://__token__:{keys[who]}@{host}")
        target = tmp_path / f"site-{who}-{name}"
        result = clients.pip("install", "--no-cache-dir", "--index-url", index, "--target", target, name, check=False)
        return result.returncode == 0 and any(target.glob("*.dist-info"))

    # the team member publishes into the scope, but not into the space-wide repository
    assert twine(scoped, "dev", dist)
    assert not twine(shared, "dev", shared_dist)
    # the lead publishes anywhere in the space; the reader nowhere
    assert twine(shared, "lead", shared_dist)
    assert not twine(scoped, "reader", dist)
    # installs: dev from the scope, reader from the space-wide repository only ("none" hides the scope)
    assert pip_install(scoped, "dev", "pipeline-kit")
    assert pip_install(shared, "reader", "shared-lib")
    assert not pip_install(scoped, "reader", "pipeline-kit")
    assert not pip_install(shared, "stranger", "shared-lib")

    # a user with no access sees exactly what a missing thing looks like
    file_url = lead.get(f"{data}/package-repositories/{scoped['id']}/packages/pipeline-kit").json()["files"][0][
        "download_url"
    ]
    missing = [scoped["simple_index_url"].replace(scope["slug"], "no-such-scope"),
               scoped["simple_index_url"] + "no-such-package/",
               file_url.replace(file_url.split("/")[-2], "00000000-0000-0000-0000-000000000000")]  # fmt: skip
    hidden = [scoped["simple_index_url"], scoped["simple_index_url"] + "pipeline-kit/", file_url]
    with httpx.Client(auth=("__token__", keys["stranger"])) as stranger:
        reference = stranger.get(missing[0])
        for url in missing + hidden:
            response = stranger.get(url)
            assert (
                (response.status_code, response.content)
                == (reference.status_code, reference.content)
                == (404, b"Not Found")
            )
    with httpx.Client(auth=("__token__", keys["reader"])) as reader:
        assert reader.get(scoped["simple_index_url"] + "pipeline-kit/").status_code == 404
        assert reader.get(file_url).status_code == 404
    for client in (platform, lead):
        client.close()
