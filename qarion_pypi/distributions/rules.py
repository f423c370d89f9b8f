"""The upload checks of the legacy API, in the order and wording twine users know.

Everything here is pure: it looks at the form, the filename, the digests and the metadata, and
raises BadRequest naming the first problem. Checks against stored state live in the upload service.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qarion_pypi.distributions.filenames import PACKAGETYPES, DistFilename
from qarion_pypi.distributions.metadata import CoreMetadata
from qarion_pypi.errors import BadRequest, Gone
from qarion_pypi.storage import Digests

_HEX = re.compile(r"[0-9A-Fa-f]{1,128}")
MAX_SUMMARY = 512
# What a distribution's file part may be sent as: a distribution, or unlabelled (RFC 7578 then
# means application/octet-stream). An image or a text is not a distribution.
_DISTRIBUTION_MEDIA = re.compile(r"application/[A-Za-z0-9.+-]+")
_DIGEST_FIELDS = {"md5_digest": "md5", "sha256_digest": "sha256", "blake2_256_digest": "blake2_256"}


def check_legacy_action(form: Mapping[str, str]) -> None:
    """The legacy protocol's envelope (twine always sends both fields)."""
    action = form.get(":action")
    if action is None:
        raise BadRequest("Missing ':action' field; only ':action=file_upload' is supported.")
    if action == "submit":  # ``twine register``
        raise Gone(
            "Registration is not needed: a project is created by the first upload of one of its files. "
            "Upload them with `twine upload` instead."
        )
    if action != "file_upload":
        raise BadRequest(f"Unsupported ':action' {action!r}; only 'file_upload' is supported.")
    version = form.get("protocol_version", "1")
    if version != "1":
        raise BadRequest(f"Unknown protocol version {version!r}; only protocol_version=1 is supported.")


def check_form_against_filename(form: Mapping[str, str], dist: DistFilename) -> None:
    """Fields twine sends must describe the same file as its name."""
    filetype = form.get("filetype")
    if filetype is not None and filetype != dist.packagetype:
        allowed = ", ".join(sorted(PACKAGETYPES.values()))
        if filetype not in PACKAGETYPES.values():
            raise BadRequest(f"Invalid value for filetype: {filetype!r}. Use one of: {allowed}.")
        raise BadRequest(
            f"Invalid value for filetype: {filetype!r} does not match the file {dist.filename!r}, "
            f"which is a {dist.packagetype}."
        )
    pyversion = form.get("pyversion")
    if dist.distribution_type == "sdist" and pyversion not in (None, "", "source"):
        raise BadRequest(f"Invalid value for pyversion: {pyversion!r}; sdists use 'source'.")
    if dist.distribution_type == "wheel" and pyversion == "source":
        raise BadRequest("Invalid value for pyversion: 'source' is only for sdists.")
    _check_form_name_version(form, dist.name, dist.version, f"the filename {dist.filename!r}")


def _check_form_name_version(form: Mapping[str, str], name: str, version: Version, where: str) -> None:
    form_name = form.get("name")
    if form_name is not None and canonicalize_name(form_name) != canonicalize_name(name):
        raise BadRequest(f"The form field name {form_name!r} does not match {where}.")
    form_version = form.get("version")
    if form_version is not None:
        try:
            same = Version(form_version) == version
        except InvalidVersion:
            raise BadRequest(f"Invalid value for version: {form_version!r} is not a valid PEP 440 version.") from None
        if not same:
            raise BadRequest(f"The form field version {form_version!r} does not match {where}.")


def check_digests(form: Mapping[str, str], digests: Digests) -> None:
    """Every digest the client supplied must match what arrived."""
    for field, attribute in _DIGEST_FIELDS.items():
        supplied = form.get(field)
        if supplied is None or supplied == "":
            continue
        if not _HEX.fullmatch(supplied.strip()):
            raise BadRequest(f"Invalid value for {field}: a digest is written in hexadecimal digits.")
        actual = getattr(digests, attribute)
        if not hmac.compare_digest(supplied.strip().lower(), actual):
            raise BadRequest(
                f"The digest supplied does not match a digest calculated from the uploaded file ({field})."
            )


def check_metadata_against_filename(metadata: CoreMetadata, dist: DistFilename) -> None:
    if metadata.normalized_name != dist.name:
        raise BadRequest(
            f"The project name in the metadata ({metadata.name!r}) does not match the filename {dist.filename!r}."
        )
    if metadata.version != dist.version:
        raise BadRequest(
            f"The version in the metadata ({metadata.version}) does not match the filename "
            f"{dist.filename!r} ({dist.version})."
        )


def check_content_type(content_type: str | None) -> None:
    if content_type and not _DISTRIBUTION_MEDIA.fullmatch(content_type.split(";")[0].strip()):
        raise BadRequest(f"Invalid distribution file: sent as {content_type!r}, which is not a distribution.")


def check_metadata_rules(metadata: CoreMetadata) -> None:
    """What the public index refuses in otherwise readable metadata."""
    if len(metadata.summary) > MAX_SUMMARY:
        raise BadRequest(f"Invalid distribution metadata: the summary is longer than {MAX_SUMMARY} characters.")
    for text in metadata.requires_dist:
        if Requirement(text).url:
            raise BadRequest(f"Can't have direct dependency: {text!r}. Depend on a released version instead.")
    if metadata.license is not None and metadata.license_expression is not None:
        raise BadRequest(
            "Invalid distribution metadata: License and License-Expression cannot both be given (PEP 639); "
            "keep License-Expression."
        )


def check_size(size: int, limit: int) -> None:
    if size == 0:
        raise BadRequest("Invalid distribution file: the file is empty.")
    if size > limit:
        raise BadRequest(f"File too large. Limit is {limit} bytes.")
