"""``qarion-pypi load``: a pypiserver-style directory (nested and flat) with good, duplicate and
bad files, and other files beside them, loaded while the server runs; a second run skips all."""

from __future__ import annotations

from pathlib import Path

from tests.support import distbuilder as d
from tests.support.harness import cli, live_server, make_repo, server_environment


def _directory(root: Path) -> Path:
    packages = root / "packages"
    (packages / "alpha").mkdir(parents=True)
    (packages / "alpha" / "alpha-1.0-py3-none-any.whl").write_bytes(d.wheel("alpha", "1.0"))
    (packages / "alpha" / "alpha-1.0.tar.gz").write_bytes(d.sdist("alpha", "1.0"))
    (packages / "beta-2.0-py3-none-any.whl").write_bytes(d.wheel("beta", "2.0"))  # flat beside nested
    (packages / "copy").mkdir()
    (packages / "copy" / "beta-2.0-py3-none-any.whl").write_bytes(d.wheel("beta", "2.0"))  # the same file again
    (packages / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip archive")
    (packages / "gamma-1.0-py3-none-any.whl").write_bytes(d.wheel("delta", "1.0"))  # metadata of another name
    (packages / "index.html").write_text("<html></html>")  # what some mirrors leave: ignored
    (packages / ".dataindex.json").write_text("{}")
    return packages


def test_load_a_pypiserver_directory_while_the_server_runs(tmp_path: Path) -> None:
    packages = _directory(tmp_path)
    with live_server(tmp_path / "data") as server:
        repo = make_repo(server)
        env = server_environment(server.admin_key)
        loaded = cli("load", packages, "--space", repo.space, "--repository", "repo", "--data-dir", server.data_dir,
                     env=env)  # fmt: skip
        assert loaded.returncode == 1, loaded.stderr  # something was refused
        refused = [line for line in loaded.stdout.splitlines() if line.startswith("REFUSED")]
        assert len(refused) == 2
        assert any("broken-1.0-py3-none-any.whl" in line and "zip" in line.lower() for line in refused), refused
        assert any("gamma-1.0-py3-none-any.whl" in line and "METADATA" in line for line in refused), refused
        assert "Loaded 3, skipped 1 already there, refused 2, ignored 2 other files" in loaded.stdout
        with repo.client() as api:
            names = {f["filename"] for p in api.get(f"{repo.manage}/packages").json() for f in p["files"]}
        assert names == {"alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "beta-2.0-py3-none-any.whl"}
        with repo.raw("viewer") as http:  # served at once by the running server
            assert http.get(repo.simple + "alpha/").status_code == 200
        again = cli("load", packages, "--space", repo.space, "--repository", "repo", "--data-dir", server.data_dir,
                    env=env)  # fmt: skip
        assert "Loaded 0, skipped 4 already there, refused 2" in again.stdout


def test_load_names_what_is_wrong(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as server:
        repo = make_repo(server)
        env = server_environment(server.admin_key)
        missing = cli("load", tmp_path / "nowhere", "--space", repo.space, "--repository", "repo",
                      "--data-dir", server.data_dir, env=env)  # fmt: skip
        assert missing.returncode == 2 and "is not a directory" in missing.stderr
        (tmp_path / "empty").mkdir()
        nothing = cli("load", tmp_path / "empty", "--space", repo.space, "--repository", "nope",
                      "--data-dir", server.data_dir, env=env)  # fmt: skip
        assert nothing.returncode == 2 and "Repository not found" in nothing.stderr
        nobody = cli("load", tmp_path / "empty", "--space", repo.space, "--repository", "repo", "--as", "ghost",
                     "--data-dir", server.data_dir, env=env)  # fmt: skip
        assert nobody.returncode == 2 and "ghost" in nobody.stderr
