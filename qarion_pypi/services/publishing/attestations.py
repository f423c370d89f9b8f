"""PEP 740 attestations sent with an upload (twine's ``--attestations``), verified offline with
pypi-attestations against the repository's trusted publishers and the Sigstore trust root that
the ``sigstore`` package ships.

An attestation that does not parse, does not cover this very file (name and SHA-256), or whose
signing identity is none of the repository's GitHub or GitLab publishers refuses the upload with
the reason. Verified attestations are kept as the file's PEP 740 provenance object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import pydantic
import sqlalchemy as sa

from qarion_pypi.context import Context
from qarion_pypi.db import tables as t
from qarion_pypi.errors import BadRequest
from qarion_pypi.repositories.records import RepositoryRecord

# pypi-attestations (and sigstore behind it) takes a third of a second to import: it is imported
# by the calls that need it, when an upload carries attestations, not by every process start.
if TYPE_CHECKING:
    from pypi_attestations import Attestation, Distribution, Provenance, Publisher

MAX_ATTESTATIONS = 8  # PEP 740 expects one per kind (publish, SLSA); room for a few more
PROVENANCE_TYPE = "application/vnd.pypi.integrity.v1+json"


@dataclass(frozen=True)
class Verified:
    publisher: dict[str, Any]  # the PEP 740 publisher object of the first bundle
    provenance: str  # the PEP 740 provenance object, as served


def parse(raw: str | None) -> list[Attestation] | None:
    """The form's ``attestations`` field (a JSON array), or None when there is none."""
    if raw is None or not raw.strip():
        return None
    try:
        items = json.loads(raw)
    except ValueError:
        raise BadRequest("Invalid attestations: the field is not JSON.") from None
    if not isinstance(items, list) or not items or len(items) > MAX_ATTESTATIONS:
        raise BadRequest(f"Invalid attestations: expected a JSON array of 1 to {MAX_ATTESTATIONS} attestations.")
    from pypi_attestations import Attestation

    try:
        return [Attestation.model_validate(item) for item in items]
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise BadRequest(f"Invalid attestation: {where}: {problem['msg']}.") from None


def _publisher(row: Any) -> Publisher | None:
    from pypi_attestations import GitHubPublisher, GitLabPublisher

    claims = row["claims"]
    if row["kind"] == "github":
        return GitHubPublisher(
            repository=claims["repository"], workflow=claims["workflow"], environment=claims.get("environment")
        )
    if row["kind"] == "gitlab":
        return GitLabPublisher(
            repository=claims["project_path"],
            workflow_filepath=claims["ci_config_path"],
            environment=claims.get("environment"),
        )
    return None  # generic OIDC publishers have no PEP 740 identity to check


def _verify_all(attestations: list[Attestation], publishers: list[Publisher], dist: Distribution) -> Provenance:
    from pypi_attestations import AttestationBundle, Provenance, VerificationError

    bundles: dict[int, list[Attestation]] = {}
    for number, attestation in enumerate(attestations, start=1):
        reasons = []
        for index, publisher in enumerate(publishers):
            try:
                attestation.verify(publisher, dist, offline=True)
            except VerificationError as exc:
                reasons.append(f"{publisher.kind} {getattr(publisher, 'repository', '')}: {exc}")
                continue
            bundles.setdefault(index, []).append(attestation)
            break
        else:
            raise BadRequest(
                f"Attestation {number} of {dist.name} does not verify against this repository's trusted "
                f"publishers: {'; '.join(reasons)}"
            )
    return Provenance(
        attestation_bundles=[AttestationBundle(publisher=publishers[i], attestations=a) for i, a in bundles.items()]
    )


async def verify(
    ctx: Context, repository: RepositoryRecord, filename: str, sha256: str, attestations: list[Attestation] | None
) -> Verified | None:
    """The upload's verified provenance, None when it carries no attestation (allowed unless the
    repository requires attestations), or BadRequest naming what failed."""
    if attestations is None:
        if repository.require_attestations:
            raise BadRequest(
                f"Repository {repository.slug!r} requires PEP 740 attestations from one of its trusted "
                "publishers: upload with twine upload --attestations."
            )
        return None
    rows = await ctx.db.fetch_all(
        sa.select(t.trusted_publishers).where(t.trusted_publishers.c.repository_id == repository.id)
    )
    publishers = [p for p in (_publisher(row) for row in rows) if p is not None]
    if not publishers:
        raise BadRequest(
            f"Repository {repository.slug!r} has no GitHub or GitLab trusted publisher to verify attestations against."
        )
    from pypi_attestations import Distribution

    dist = Distribution(name=filename, digest=sha256)
    provenance = await anyio.to_thread.run_sync(_verify_all, attestations, publishers, dist)
    first = provenance.attestation_bundles[0].publisher
    return Verified(publisher=first.model_dump(mode="json"), provenance=provenance.model_dump_json())


async def provenance_of(ctx: Context, file_id: str) -> str | None:
    found = await ctx.db.fetch_val(
        sa.select(t.file_provenance.c.provenance).where(t.file_provenance.c.file_id == file_id)
    )
    return str(found) if found is not None else None
