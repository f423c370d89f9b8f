"""Copy-ready client configuration for one repository. No secret is ever put in a page: where a
key belongs, the snippet says so with a placeholder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

KEY = "<your API key>"


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    file: str  # where it goes
    text: str


def _with_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"__token__:{KEY}@{parts.netloc}"))


def for_repository(name: str, index_url: str, upload_url: str | None, public: bool) -> list[Snippet]:
    """``name``: the repository slug (a valid index name in uv, poetry and .pypirc)."""
    env = re.sub(r"[^A-Z0-9]", "_", name.upper())
    pip_url = index_url if public else _with_credentials(index_url)
    uv = f'[[tool.uv.index]]\nname = "{name}"\nurl = "{index_url}"\n'
    if not public:
        uv += (
            f"\n# credentials, in the environment:\n"
            f"# UV_INDEX_{env}_USERNAME=__token__\n# UV_INDEX_{env}_PASSWORD={KEY}\n"
        )
    poetry = f"poetry source add --priority=primary {name} {index_url}\n"
    if not public:
        poetry += f"poetry config http-basic.{name} __token__ '{KEY}'\n"
    found = [
        Snippet("pip", "pip", "pip.conf (or pip.ini)", f"[global]\nindex-url = {pip_url}\n"),
        Snippet("uv", "uv", "pyproject.toml", uv),
        Snippet("poetry", "Poetry", "a shell in the project", poetry),
    ]
    if upload_url:
        pypirc = (
            f"[distutils]\nindex-servers =\n    {name}\n\n[{name}]\nrepository = {upload_url}\n"
            f"username = __token__\npassword = {KEY}\n"
        )
        found.append(Snippet("twine", "twine", "~/.pypirc, then: twine upload -r " + name + " dist/*", pypirc))
    return found
