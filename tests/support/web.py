"""The web interface in tests: signing in as a browser does, and a catalogue worth browsing (a
README, dependencies, a yanked and a pre-release version, and a package written by an attacker)."""

from __future__ import annotations

import re

import httpx

from tests.support import distbuilder as d
from tests.support.harness import Repo

README = """# Demo

A package to **browse**.

```python
import demo
```
"""
# Everything an uploader controls, written to run script if any of it reached the page as markup.
HOSTILE_README = (
    "# Hostile\n\n<script>window.pwned = 'readme'</script>\n\n"
    "<img src=\"x\" onerror=\"window.pwned = 'img'\">\n\n[click](javascript:window.pwned='link')\n"
)
HOSTILE_SUMMARY = "<script>window.pwned = 'summary'</script>"


def _meta(name: str, version: str, *headers: str, description: str = "") -> bytes:
    text = "".join(f"{header}\n" for header in headers)
    body = f"Description-Content-Type: text/markdown\n\n{description}" if description else ""
    return d.metadata(name, version, extra=text + body)


def publish_catalogue(repo: Repo) -> dict[str, str]:
    """Uploads the catalogue; returns the id of the yanked file by name."""
    uploads = {
        "helper-1.0-py3-none-any.whl": d.wheel("helper", "1.0"),
        "demo-1.0-py3-none-any.whl": d.wheel(
            "demo", "1.0",
            meta=_meta("demo", "1.0", "Requires-Dist: helper>=1", "Requires-Dist: elsewhere; extra == 'x'",
                       "Requires-Python: >=3.9", "Classifier: Programming Language :: Python :: 3",
                       "Project-URL: Source, https://example.invalid/demo", description=README),
        ),
        "demo-1.1-py3-none-any.whl": d.wheel("demo", "1.1", meta=_meta("demo", "1.1", description=README)),
        "demo-2.0rc1-py3-none-any.whl": d.wheel("demo", "2.0rc1", meta=_meta("demo", "2.0rc1", description=README)),
        "hostile-1.0-py3-none-any.whl": d.wheel(
            "hostile", "1.0",
            meta=d.metadata("hostile", "1.0", extra=(
                f"Classifier: <script>window.pwned = 'classifier'</script>\n"
                "Project-URL: <b>Home</b>, javascript:window.pwned='url'\n"
                "Requires-Dist: helper; extra == '<script>'\n"
                f"Description-Content-Type: text/markdown\n\n{HOSTILE_README}"
            )).replace(b"Summary: A demo package", f"Summary: {HOSTILE_SUMMARY}".encode()),
        ),
    }  # fmt: skip
    for filename, content in uploads.items():
        response = repo.upload(filename, content)
        assert response.status_code == 200, response.text
    with repo.client() as api:
        files = api.get(f"{repo.manage}/packages/demo").json()["files"]
        yanked = next(f for f in files if f["version"] == "1.1")
        answer = api.patch(
            f"/spaces/{repo.space}/package-repositories/files/{yanked['id']}/yank",
            json={"yanked": True, "reason": "broken build"},
        )
        assert answer.status_code == 200, answer.text
    return {"yanked": yanked["id"]}


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(http: httpx.Client, key: str) -> httpx.Response:
    """Sign in as a browser does: load the start page (its form and cookie), post the key."""
    token = form_token(http.get("/").text)
    return http.post("/sign-in", data={"csrf_token": token, "key": key, "next": "/"}, follow_redirects=False)
