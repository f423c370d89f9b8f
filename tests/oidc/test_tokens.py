"""Verifying CI tokens against a real issuer on loopback: signatures of both key types, every
claim check with its reason, key rotation, and key sets cached as their answer says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from qarion_pypi.oidc.keys import IssuerKeys
from qarion_pypi.oidc.tokens import TokenRefused, verify
from qarion_pypi.upstream.http import Outbound
from qarion_pypi.upstream.policy import OutboundPolicy
from tests.support.oidc_issuer import AUDIENCE, Issuer, SigningKey, github_claims, oidc_issuer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def keys() -> AsyncIterator[IssuerKeys]:
    outbound = Outbound(OutboundPolicy(allow_private=True))
    yield IssuerKeys(outbound.anonymous())
    await outbound.aclose()


async def _verify(issuer: Issuer, keys: IssuerKeys, token: str, audience: str = AUDIENCE) -> dict[str, Any]:
    return await verify(token, issuers=(issuer.url,), audience=audience, keys=keys)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_token_signed_by_the_issuer_verifies(issuer: Issuer, keys: IssuerKeys, algorithm: str) -> None:
    claims = await _verify(issuer, keys, issuer.token(github_claims(), algorithm=algorithm))
    assert claims["repository"] == "octo-org/app" and claims["iss"] == issuer.url


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.token(github_claims(), aud="someone-else"), "audience is not 'qarion-pypi'"),
        (lambda i: i.token(github_claims(), iss="https://evil.example"), "unknown issuer 'https://evil.example'"),
        (lambda i: i.token(github_claims(), exp=1_000_000), "has expired"),
        (lambda i: i.token(github_claims(), nbf=4_000_000_000), "not valid yet"),
        (lambda i: i.token(github_claims(), jti=None), "no 'jti' claim"),
        (lambda i: i.token(github_claims(), key=SigningKey(i.keys[0].kid, "RS256", SigningKey.new("RS256").private)),
         "signature does not verify"),
        (lambda i: i.token(github_claims(), key=SigningKey("unknown-kid", "RS256", i.keys[0].private)),
         "no key with id 'unknown-kid'"),
        (lambda i: jwt.encode({"iss": i.url, "aud": AUDIENCE}, "s" * 32, algorithm="HS256", headers={"kid": "x"}),
         "algorithm 'HS256' is not accepted"),
        (lambda i: "not.a.jwt", "not a JWT"),
    ],
    ids=["audience", "issuer", "expired", "not-yet-valid", "no-jti", "bad-signature", "unknown-key", "hs256",
         "garbage"],
)  # fmt: skip
async def test_refusals_say_why(issuer: Issuer, keys: IssuerKeys, make: Any, reason: str) -> None:
    with pytest.raises(TokenRefused, match=None) as refused:
        await _verify(issuer, keys, make(issuer))
    assert reason in str(refused.value)


async def test_key_sets_are_cached_and_fetched_again_for_a_new_key(keys: IssuerKeys) -> None:
    with oidc_issuer() as issuer:
        for _ in range(3):
            await _verify(issuer, keys, issuer.token(github_claims()))
        assert issuer.jwks_fetches == 1  # max-age=600: one fetch serves them all
        old = issuer.token(github_claims())
        issuer.rotate()
        await _verify(issuer, keys, issuer.token(github_claims()))  # an unknown kid: fetched again
        assert issuer.jwks_fetches == 2
        with pytest.raises(TokenRefused, match="no key with id"):
            await _verify(issuer, keys, old)  # the retired key is gone from the set


async def test_an_unreachable_issuer_refuses_with_a_reason(keys: IssuerKeys) -> None:
    with oidc_issuer() as issuer:
        url = issuer.url
        token = issuer.token(github_claims())
    with pytest.raises(TokenRefused, match="could not be fetched"):
        await verify(token, issuers=(url,), audience=AUDIENCE, keys=keys)
