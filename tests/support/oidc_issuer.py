"""An OIDC issuer on loopback, as GitHub Actions and GitLab CI run one: a discovery document, a
JWKS with an RS256 and an ES256 key (rotatable), and CI-shaped tokens signed on demand."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.appserver import app_server

AUDIENCE = "qarion-pypi"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def new(cls, algorithm: str) -> SigningKey:
        private = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        return cls(f"{algorithm.lower()}-{secrets.token_hex(4)}", algorithm, private)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if self.algorithm == "RS256" else jwt.algorithms.ECAlgorithm
        document: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**document, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass
class Issuer:
    url: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new("RS256"), SigningKey.new("ES256")])
    jwks_fetches: int = 0

    def rotate(self) -> None:
        """New keys replace the old ones (tokens signed with the old ones stop verifying)."""
        self.keys = [SigningKey.new("RS256"), SigningKey.new("ES256")]

    def token(self, claims: dict[str, Any], *, algorithm: str = "RS256", key: SigningKey | None = None,
              **overrides: Any) -> str:  # fmt: skip
        """A signed token: standard claims (iss, aud, iat, nbf, exp in 5 minutes, a fresh jti),
        then ``claims``, then ``overrides`` (a value of None removes the claim)."""
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300,
                "jti": secrets.token_hex(8), **claims, **overrides}  # fmt: skip
        body = {name: value for name, value in body.items() if value is not None}
        signer = key or next(k for k in self.keys if k.algorithm == algorithm)
        return jwt.encode(body, signer.private, algorithm=signer.algorithm, headers={"kid": signer.kid})

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def jwks(request: Request) -> JSONResponse:
            self.jwks_fetches += 1
            return JSONResponse({"keys": [key.jwk() for key in self.keys]}, headers={"Cache-Control": "max-age=600"})

        return Starlette(
            routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", jwks)],
        )


def github_claims(repository: str = "octo-org/app", workflow: str = "release.yml", **extra: Any) -> dict[str, Any]:
    """The claims of a GitHub Actions job token that matter here."""
    return {
        "sub": f"repo:{repository}:ref:refs/heads/main",
        "repository": repository,
        "repository_owner": repository.split("/")[0],
        "workflow": "Release",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@refs/heads/main",
        "ref": "refs/heads/main",
        "run_id": "4242",
        **extra,
    }


def gitlab_claims(project_path: str = "group/app", config: str = ".gitlab-ci.yml", **extra: Any) -> dict[str, Any]:
    """The claims of a GitLab CI job token that matter here."""
    return {
        "sub": f"project_path:{project_path}:ref_type:branch:ref:main",
        "project_path": project_path,
        "ci_config_ref_uri": f"gitlab.example/{project_path}//{config}@refs/heads/main",
        "pipeline_id": "77",
        **extra,
    }


@contextmanager
def oidc_issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    with app_server(issuer.app()) as url:
        issuer.url = url
        yield issuer
