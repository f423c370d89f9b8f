"""Exchanging a CI job's OIDC token for a short-lived upload token (trusted publishing).

The token is verified (``oidc.tokens``), accepted once (its ``jti`` is remembered until it
expires), and matched against every trusted publisher of its issuer; the upload token minted
for it may publish to exactly the repositories of the publishers that matched, for 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from qarion_pypi.auth.keys import generate_minted_token, hash_key
from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.db.ids import new_id
from qarion_pypi.db.types import utcnow
from qarion_pypi.errors import Conflict, Forbidden, Unauthenticated
from qarion_pypi.oidc.tokens import TokenRefused, verify
from qarion_pypi.services.publishing import publishers

LIFETIME = timedelta(minutes=15)
# Claims worth keeping with a minted token (and in the audit log): who the job was.
_IDENTITY_CLAIMS = ("sub", "repository", "workflow", "job_workflow_ref", "ref", "environment", "project_path",
                    "ci_config_ref_uri", "pipeline_id", "run_id")  # fmt: skip


@dataclass(frozen=True)
class Minted:
    token: str
    expires_at: datetime
    repository_ids: list[str]
    identity: dict[str, Any]


async def mint(ctx: Context, oidc_token: str) -> Minted:
    if not ctx.settings.oidc_issuers:
        raise Forbidden("Trusted publishing is not enabled on this server ([oidc] issuers is empty).")
    try:
        claims = await verify(
            oidc_token, issuers=ctx.settings.oidc_issuers, audience=ctx.settings.oidc_audience, keys=ctx.issuer_keys
        )
    except TokenRefused as exc:
        raise Unauthenticated(f"OIDC token refused: {exc}.") from None
    issuer = claims["iss"]
    matched = await publishers.matching(ctx, issuer, claims)
    identity = {"issuer": issuer, **{name: claims[name] for name in _IDENTITY_CLAIMS if name in claims}}
    if not matched:
        raise Forbidden(f"No trusted publisher matches this token ({_describe(identity)}).")
    now = utcnow()
    token = generate_minted_token()
    expires_at = now + LIFETIME
    repository_ids = sorted({row["repository_id"] for row in matched})
    identity["publishers"] = [{"id": row["id"], "kind": row["kind"], "claims": row["claims"]} for row in matched]
    async with ctx.db.transaction():
        await ctx.db.execute(t.oidc_jtis.delete().where(t.oidc_jtis.c.expires_at < now))
        seen = await ctx.db.fetch_one(
            sa.select(t.oidc_jtis.c.jti).where(t.oidc_jtis.c.issuer == issuer, t.oidc_jtis.c.jti == str(claims["jti"]))
        )
        if seen is not None:
            raise Conflict("This OIDC token was already exchanged; each token is accepted once.")
        token_expiry = datetime.fromtimestamp(int(claims["exp"]), UTC) + timedelta(minutes=1)
        await ctx.db.execute(
            t.oidc_jtis.insert().values(issuer=issuer, jti=str(claims["jti"]), expires_at=token_expiry)
        )
        await ctx.db.execute(t.publish_tokens.delete().where(t.publish_tokens.c.expires_at < now - LIFETIME))
        await ctx.db.execute(
            t.publish_tokens.insert().values(
                id=new_id(), token_hash=hash_key(token), repository_ids=repository_ids,
                publisher_ids=[row["id"] for row in matched], identity=identity, created_at=now, expires_at=expires_at,
            )
        )  # fmt: skip
    return Minted(token, expires_at, repository_ids, identity)


def _describe(identity: dict[str, Any]) -> str:
    shown = [f"{name}={identity[name]!r}" for name in ("issuer", "repository", "workflow", "job_workflow_ref",
                                                        "project_path", "ci_config_ref_uri", "environment", "sub")
             if name in identity]  # fmt: skip
    return ", ".join(shown)
