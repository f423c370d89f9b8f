"""The management API over HTTP: spaces, members, repositories, packages, files."""

from __future__ import annotations

import pytest

from tests.support import distbuilder as d
from tests.support.backends import POSTGRES
from tests.support.harness import LiveServer, Repo


def test_repository_fields_and_counts(repo: Repo) -> None:
    assert repo.upload("demo-1.0-py3-none-any.whl", d.wheel()).status_code == 200
    assert repo.upload("demo-1.0.tar.gz", d.sdist()).status_code == 200
    with repo.client() as api:
        document = api.get(repo.manage).json()
        listed = api.get(f"/spaces/{repo.space}/package-repositories").json()
    assert listed[0]["id"] == document["id"]
    assert (document["package_count"], document["file_count"]) == (1, 2)
    assert document["simple_index_url"] == repo.server.url + repo.simple
    assert document["upload_url"] == repo.server.url + repo.legacy
    for name in (
        "space_id",
        "project_scope_id",
        "is_active",
        "archived_at",
        "created_by_id",
        "updated_by_id",
        "effective_permissions",
        "scan_policy",
        "security_summary",
        "created_at",
        "updated_at",
    ):
        assert name in document
    assert document["packages"][0]["normalized_name"] == "demo"


def test_package_detail_and_file_record(repo: Repo) -> None:
    for version in ("1.0", "2.0b1"):
        assert repo.upload(f"demo-{version}-py3-none-any.whl", d.wheel(version=version)).status_code == 200
    with repo.client() as api:
        package = api.get(f"{repo.manage}/packages/Demo").json()
        uploader = api.get("/me").json()["username"]
        assert api.get(f"{repo.manage}/packages").json()[0]["latest_version"] == "1.0"
    assert package["versions"] == ["2.0b1", "1.0"]
    assert package["latest_version"] == "1.0"  # pre-releases are not "latest" while a final exists
    assert package["summary"] == "A demo package"
    record = package["files"][0]
    for name in (
        "filename",
        "distribution_type",
        "content_type",
        "size",
        "sha256",
        "storage_backend",
        "yanked",
        "yanked_reason",
        "scan_status",
        "vulnerability_summary",
        "is_blocked",
        "uploaded_by",
        "uploaded_at",
        "download_url",
    ):
        assert name in record
    assert record["distribution_type"] == "wheel"
    assert record["storage_backend"] == ("s3" if POSTGRES else "filesystem")
    assert record["uploaded_by"] == uploader


def test_management_upload_then_identical_reupload(repo: Repo) -> None:
    assert repo.upload("demo-1.0.tar.gz", d.sdist()).status_code == 200
    with repo.client("member") as api:
        member = api.get("/me").json()["username"]
        first = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0-py3-none-any.whl", d.wheel())})
        second = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0-py3-none-any.whl", d.wheel())})
        listed = api.get(f"{repo.manage}/packages").json()
    assert first.status_code == 201 and second.status_code == 200
    # the package as it is after the upload, and who uploaded the file
    package = first.json()["package"]
    assert (package["latest_version"], package["versions"], package["file_count"]) == ("1.0", ["1.0"], 2)
    assert sorted(f["filename"] for f in package["files"]) == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]
    assert first.json()["file"]["uploaded_by"] == member
    assert first.json()["version"] == "1.0"
    # listings carry their files, as the reference describes
    assert [f["filename"] for f in listed[0]["files"]] == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "nul\x00inside"}, "name"),
        ({"name": "Tools", "description": "bell\x07"}, "description"),
        ({"name": "Tools", "slug": "tab\tslug"}, "slug"),
        ({"name": "line\nbreak"}, "name"),
    ],
)
def test_control_characters_in_text_fields_are_422(repo: Repo, payload: dict, field: str) -> None:
    with repo.client() as api:
        response = api.post(f"/spaces/{repo.space}/package-repositories", json=payload)
    assert response.status_code == 422, response.text
    assert {"field": field, "message": "must not contain control characters"} in response.json()["errors"]


def test_descriptions_may_span_lines(repo: Repo) -> None:
    with repo.client() as api:
        response = api.post(
            f"/spaces/{repo.space}/package-repositories", json={"name": "Docs", "description": "One\nTwo\tthree"}
        )
    assert response.status_code == 201 and response.json()["description"] == "One\nTwo\tthree"


def test_control_characters_in_urls_end_before_any_route(repo: Repo) -> None:
    with repo.client() as api:
        assert api.get(f"/spaces/{repo.space}%00/package-repositories").status_code == 404
        refused = api.get("/admin/audit", params={"q": "a\x00b"})
        assert refused.status_code == 400 and "control characters" in refused.json()["detail"]
    with repo.raw() as http:
        missing = http.get(repo.simple.replace("/repo/", "/repo%00/"))
        assert missing.status_code == 404 and missing.text == "Not Found"


def test_delete_file_removes_unshared_blobs(repo: Repo) -> None:
    with repo.client() as api:
        created = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0-py3-none-any.whl", d.wheel(salt="solo"))})
        file = created.json()["file"]
        blob = f"{file['sha256'][:2]}/{file['sha256'][2:4]}/{file['sha256']}"
        assert blob in repo.server.blobs()
        assert api.delete(f"/spaces/{repo.space}/package-repositories/files/{file['id']}").status_code == 204
        assert api.get(f"{repo.manage}/packages/demo").status_code == 404
        assert api.delete(f"/spaces/{repo.space}/package-repositories/files/{file['id']}").status_code == 404
    assert blob not in repo.server.blobs()


def test_shared_blobs_survive_deletion_elsewhere(server: LiveServer, repo: Repo) -> None:
    from tests.support.harness import make_repo

    other = make_repo(server)
    content = d.wheel(salt="shared")
    assert repo.upload("demo-1.0-py3-none-any.whl", content).status_code == 200
    assert other.upload("demo-1.0-py3-none-any.whl", content).status_code == 200
    with repo.client() as api:
        file_id = api.get(f"{repo.manage}/packages/demo").json()["files"][0]["id"]
        api.delete(f"/spaces/{repo.space}/package-repositories/files/{file_id}").raise_for_status()
    with other.raw() as http:
        url = http.get(other.simple + "demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        assert http.get(url["files"][0]["url"]).content == content


@pytest.mark.parametrize(
    ("role", "upload", "yank", "create_repo", "add_member"),
    [
        ("viewer", 403, 403, 403, 403),
        ("member", 201, 403, 403, 403),
        ("editor", 201, 200, 403, 403),
        ("admin", 201, 200, 201, 200),
        ("outsider", 404, 404, 404, 404),
    ],
)
def test_roles(repo: Repo, role: str, upload: int, yank: int, create_repo: int, add_member: int) -> None:
    with repo.client() as admin:
        seeded = admin.post(f"{repo.manage}/files", files={"file": ("seed-1.0-py3-none-any.whl", d.wheel("seed"))})
        file_id = seeded.json()["file"]["id"]
    with repo.client(role) as api:
        status = api.post(f"{repo.manage}/files", files={"file": ("demo-1.0-py3-none-any.whl", d.wheel())}).status_code
        assert status == upload
        yanked = api.patch(f"/spaces/{repo.space}/package-repositories/files/{file_id}/yank", json={"yanked": True})
        assert yanked.status_code == yank
        created = api.post(f"/spaces/{repo.space}/package-repositories", json={"name": "Another"})
        assert created.status_code == create_repo
        member = api.put(f"/spaces/{repo.space}/members/admin", json={"role": "viewer"})
        assert member.status_code == add_member
        if yank == 403:
            assert "yank access" in yanked.json()["detail"]


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/spaces", {"name": "X", "slug": "Not A Slug"}, "slug"),
        ("/spaces", {"slug": "no-name"}, "name"),
        ("/spaces", {"name": "X", "colour": "red"}, "colour"),
        ("/spaces", {"name": 5}, "name"),
        ("/users", {"username": "has space"}, "username"),
        ("/users", {"username": "ok", "is_admin": "yes"}, "is_admin"),
    ],
)
def test_invalid_payloads_are_422_with_field_errors(server: LiveServer, path: str, payload: dict, field: str) -> None:
    with server.admin() as admin:
        response = admin.post(path, json=payload)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


def test_repository_payload_errors(repo: Repo) -> None:
    with repo.client() as api:
        base = f"/spaces/{repo.space}/package-repositories"
        assert api.post(base, json={"name": "Dup", "slug": "repo"}).status_code == 409
        assert api.post(base, json={"name": ""}).status_code == 422
        assert api.post(base, content=b"{not json").status_code == 400
        assert api.post(base, content=b"[1]").status_code == 400
        yank = api.patch(f"/spaces/{repo.space}/package-repositories/files/not-a-uuid/yank", json={"yanked": True})
        assert yank.status_code == 404
        assert api.get(f"{base}/not-a-uuid").status_code == 404


def test_management_auth(server: LiveServer) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/spaces")
        assert response.status_code == 401
        assert response.json()["detail"].startswith("Authentication required")
    with server.http(auth=("__token__", server.admin_key)) as basic:
        assert basic.get("/api/v1.0/me").json()["username"] == "admin"


def test_spaces_are_listed_only_for_members(repo: Repo) -> None:
    with repo.client("viewer") as viewer, repo.client("outsider") as outsider:
        assert repo.space in [s["slug"] for s in viewer.get("/spaces").json()]
        assert repo.space not in [s["slug"] for s in outsider.get("/spaces").json()]
        assert viewer.post("/spaces", json={"name": "Mine"}).status_code == 403
        me = viewer.get("/me").json()
        assert [s["effective_permissions"] for s in me["spaces"] if s["slug"] == repo.space] == [["view"]]


def test_users_manage_their_own_keys(repo: Repo, server: LiveServer) -> None:
    with repo.client("member") as member:
        username = member.get("/me").json()["username"]
        created = member.post(f"/users/{username}/api-keys", json={"name": "laptop"})
        assert created.status_code == 201 and created.json()["key"].startswith("qpypi_")
        assert member.post("/users/admin/api-keys", json={"name": "steal"}).status_code == 404
    with server.client(created.json()["key"]) as fresh:
        assert fresh.get("/me").json()["username"] == username
