"""Verifying a CI job's OIDC token (a JWT) with PyJWT: an allowed issuer, a signature by one of
its published keys (RS256/ES256 family only), the expected audience, and the times (``exp``,
``nbf``, ``iat``, with 30 seconds' leeway). Every refusal says why."""

from __future__ import annotations

from typing import Any

import jwt

from qarion_pypi.oidc.keys import IssuerKeys, KeysUnavailable

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
LEEWAY = 30
MAX_TOKEN_LENGTH = 16 * 1024


class TokenRefused(Exception):
    """The token is not one this server accepts; the message says why."""


async def verify(token: str, *, issuers: tuple[str, ...], audience: str, keys: IssuerKeys) -> dict[str, Any]:
    """The token's verified claims."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("the token is too long to be an OIDC token")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError:
        raise TokenRefused("the token is not a JWT") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in issuers:
        raise TokenRefused(f"unknown issuer {issuer!r}: this server trusts {', '.join(issuers) or 'no issuer'}")
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        raise TokenRefused(f"the token's algorithm {algorithm!r} is not accepted")
    if not isinstance(kid, str):
        raise TokenRefused("the token names no signing key (kid)")
    try:
        key = await keys.key(issuer, kid)
    except KeysUnavailable as exc:
        raise TokenRefused(str(exc)) from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=[algorithm], audience=audience, issuer=issuer, leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "jti"]},
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise TokenRefused("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefused("the token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(f"the token's audience is not {audience!r}") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("the token's signature does not verify") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused(f"the token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:  # a key that does not fit the algorithm, a malformed claim
        raise TokenRefused(f"the token is invalid ({exc})") from None
    return claims
