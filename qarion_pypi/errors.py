"""The domain error tree. Services raise these; each HTTP surface maps them in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class QarionError(Exception):
    """Base of every error a service may raise on purpose."""

    status = 400

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)


class BadRequest(QarionError):
    """The input is malformed or breaks a rule (an invalid upload, say)."""

    status = 400


class Unauthenticated(QarionError):
    """Credentials are missing or wrong."""

    status = 401


class Forbidden(QarionError):
    """The caller can see the resource but lacks the named access."""

    status = 403


class NotFound(QarionError):
    """Missing, or not visible to the caller: the two are never told apart."""

    status = 404


class Conflict(QarionError):
    """The request clashes with existing state (a slug in use, say)."""

    status = 409


class Gone(QarionError):
    """What the request asks for no longer exists here (legacy registration, say)."""

    status = 410


class RequestTimeout(QarionError):
    status = 408


class PayloadTooLarge(QarionError):
    status = 413


class ValidationFailed(QarionError):
    """A JSON payload is invalid; ``errors`` names each field."""

    status = 422


class Unavailable(QarionError):
    """The server cannot do it now; ``retry_after`` seconds, when known, go to the client."""

    status = 503

    def __init__(self, detail: str, errors: Sequence[FieldError] = (), *, retry_after: int | None = None) -> None:
        super().__init__(detail, errors)
        self.retry_after = retry_after


class InsufficientStorage(QarionError):
    """The disk (or the database's) is full: nothing was kept."""

    status = 507

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            detail or "The server's storage is full, so nothing was kept. Try again later, and tell its administrators."
        )
