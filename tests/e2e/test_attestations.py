"""PEP 740 attestations through twine's ``--attestations``: real attestations made by real trusted
publishers (``tests/data/attestations``, from pypi-attestations' test assets), verified offline
against the repository's publishers; the provenance served by the Integrity API and named by the
JSON simple page parses back with pypi-attestations."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pypi_attestations import Distribution, GitHubPublisher, Provenance

from tests.support.clients import Clients
from tests.support.harness import LiveServer, Repo, live_server, make_repo

pytestmark = pytest.mark.slow

ATTESTED = Path(__file__).parents[1] / "data" / "attestations"  # see its README.md
GITHUB, GITLAB = "https://token.actions.githubusercontent.com", "https://gitlab.com"
GITHUB_DIST = "pypi_attestations-0.0.19.tar.gz"
GITLAB_DIST = "gitlab_oidc_project-0.0.3.tar.gz"
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("attestations") / "data"
    with live_server(data, oidc_issuers=f"{GITHUB},{GITLAB}") as running:
        yield running


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(tmp_path_factory.mktemp("attest-clients") / "home")


def _dists(tmp_path: Path, *names: str) -> Path:
    """The distributions with their attestations, as twine finds them (beside each other)."""
    folder = tmp_path / "dist"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(ATTESTED / name, folder / name)
        shutil.copy(ATTESTED / f"{name}.publish.attestation", folder / f"{name}.publish.attestation")
    return folder


def _publish_from(repo: Repo, *publishers: tuple[str, str, dict[str, str]]) -> None:
    with repo.client() as api:
        for kind, issuer, claims in publishers:
            made = api.post(
                f"{repo.manage}/trusted-publishers", json={"kind": kind, "issuer": issuer, "claims": claims}
            )
            assert made.status_code == 201, made.text


THE_PUBLISHERS = (
    ("github", GITHUB, {"repository": "trailofbits/pypi-attestations", "workflow": "release.yml"}),
    ("gitlab", GITLAB, {"project_path": "facutuesca/gitlab-oidc-project", "ci_config_path": ".gitlab-ci.yml"}),
)


def _upload(clients: Clients, repo: Repo, folder: Path, name: str, attested: bool = False) -> tuple[bool, str]:
    """twine upload, with ``--attestations`` and the attestation file when ``attested``."""
    files = [folder / name, folder / f"{name}.publish.attestation"] if attested else [folder / name]
    # ASGI has no custom reason phrases: twine shows the server's message with --verbose.
    flags = ["--verbose", "--attestations"] if attested else ["--verbose"]
    done = clients.twine_upload(repo.server.url + repo.legacy, repo.keys["member"], *flags, *files, check=False)
    return done.returncode == 0, " ".join((done.stdout + done.stderr).split())  # twine wraps its lines


def test_attested_uploads_are_verified_stored_and_served(server: LiveServer, clients: Clients, tmp_path: Path) -> None:
    repo = make_repo(server)
    _publish_from(repo, *THE_PUBLISHERS)
    folder = _dists(tmp_path, GITHUB_DIST, GITLAB_DIST)
    for name in (GITHUB_DIST, GITLAB_DIST):
        ok, output = _upload(clients, repo, folder, name, attested=True)
        assert ok, output
    with repo.raw("viewer") as http:
        page = http.get(repo.simple + "pypi-attestations/", headers=JSON).json()
        (entry,) = page["files"]
        assert entry["provenance"].endswith(f"/integrity/pypi-attestations/0.0.19/{GITHUB_DIST}/provenance")
        served = http.get(entry["provenance"])
        html = http.get(repo.simple + "pypi-attestations/", headers={"Accept": "text/html"}).text
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/vnd.pypi.integrity.v1+json")
    assert f'data-provenance="{entry["provenance"]}"' in html
    provenance = Provenance.model_validate_json(served.content)
    (bundle,) = provenance.attestation_bundles
    assert isinstance(bundle.publisher, GitHubPublisher)
    assert bundle.publisher.repository == "trailofbits/pypi-attestations"
    (attestation,) = bundle.attestations
    attestation.verify(bundle.publisher, Distribution.from_file(ATTESTED / GITHUB_DIST), offline=True)
    with repo.client() as api:
        files = {f["filename"]: f for package in api.get(f"{repo.manage}/packages").json() for f in package["files"]}
    assert files[GITHUB_DIST]["attested_by"]["kind"] == "GitHub"
    assert files[GITLAB_DIST]["attested_by"] == {
        "kind": "GitLab", "repository": "facutuesca/gitlab-oidc-project", "workflow_filepath": ".gitlab-ci.yml",
        "environment": None,
    }  # fmt: skip


def test_an_attestation_of_another_publisher_is_refused(server: LiveServer, clients: Clients, tmp_path: Path) -> None:
    repo = make_repo(server)
    _publish_from(repo, ("github", GITHUB, {"repository": "someone/else", "workflow": "release.yml"}))
    ok, output = _upload(clients, repo, _dists(tmp_path, GITHUB_DIST), GITHUB_DIST, attested=True)
    assert not ok and "does not verify against this repository's trusted publishers" in output, output
    assert "someone/else" in output
    with repo.client() as api:
        assert api.get(f"{repo.manage}/packages").json() == []


def test_a_changed_distribution_is_refused(server: LiveServer, clients: Clients, tmp_path: Path) -> None:
    repo = make_repo(server)
    _publish_from(repo, *THE_PUBLISHERS)
    folder = _dists(tmp_path, GITHUB_DIST)
    changed = bytearray((folder / GITHUB_DIST).read_bytes())
    changed[4] ^= 1  # the gzip header's timestamp: still a valid archive, one byte different
    (folder / GITHUB_DIST).write_bytes(bytes(changed))
    ok, output = _upload(clients, repo, folder, GITHUB_DIST, attested=True)
    assert not ok and "does not verify" in output


def test_a_repository_can_require_attestations(server: LiveServer, clients: Clients, tmp_path: Path) -> None:
    repo = make_repo(server)
    _publish_from(repo, *THE_PUBLISHERS)
    with repo.client() as api:
        updated = api.patch(repo.manage, json={"require_attestations": True})
        assert updated.status_code == 200 and updated.json()["require_attestations"] is True
    folder = _dists(tmp_path, GITHUB_DIST, GITLAB_DIST)
    ok, output = _upload(clients, repo, folder, GITLAB_DIST)
    assert not ok and "requires PEP 740 attestations" in output
    ok, output = _upload(clients, repo, folder, GITHUB_DIST, attested=True)
    assert ok, output


def test_malformed_attestations_get_a_clear_answer(server: LiveServer) -> None:
    repo = make_repo(server)
    _publish_from(repo, *THE_PUBLISHERS)
    content = (ATTESTED / GITHUB_DIST).read_bytes()
    for value, expected in (("not json", "is not JSON"), ("[]", "expected a JSON array"),
                            (json.dumps([{"version": 1}]), "Invalid attestation")):  # fmt: skip
        answer = repo.upload(GITHUB_DIST, content, role="member", attestations=value)
        assert answer.status_code == 400 and expected in answer.text, answer.text
    with httpx.Client(base_url=repo.server.url) as http:
        assert http.get(repo.simple + "pypi-attestations/").status_code == 401
