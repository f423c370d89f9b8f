"""Streaming ``multipart/form-data`` for uploads.

The file part goes straight into a staging blob, hashed in the same pass; text fields are
collected with bounds. Nothing is buffered whole, so a 1 GiB wheel costs ~1 MiB of memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from qarion_pypi.api.http import idle_bounded
from qarion_pypi.errors import BadRequest, PayloadTooLarge
from qarion_pypi.storage import IncomingBlob

MAX_TEXT_BYTES = 16 * 1024 * 1024  # all text fields together (long READMEs in ``description``)
MAX_PARTS = 1000
MAX_BOUNDARY = 256


@dataclass
class ReceivedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    filename: str = ""
    content_type: str | None = None  # the file part's, as sent
    blob: IncomingBlob | None = None

    def first_values(self) -> dict[str, str]:
        return {name: values[0] for name, values in self.fields.items() if values}

    def discard(self) -> None:
        if self.blob is not None:
            self.blob.discard()


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    text: bytearray = field(default_factory=bytearray)
    target: IncomingBlob | None = None


class _Events:
    """python-multipart calls back synchronously; we queue events and handle them async."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, Any]] = []
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": lambda: self.queue.append(("end", None)),
        }

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = b""
        self._value = b""

    def _headers_finished(self) -> None:
        self.queue.append(("headers", self._headers))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.queue.append(("data", data[start:end]))

    def drain(self) -> list[tuple[str, Any]]:
        events, self.queue = self.queue, []
        return events


class _FormReader:
    def __init__(self, file_field: str, new_blob: Callable[[], IncomingBlob], max_file_bytes: int) -> None:
        self.form = ReceivedForm()
        self._file_field = file_field
        self._new_blob = new_blob
        self._max_file = max_file_bytes
        self._text_bytes = 0
        self._parts = 0
        self._part = _Part()

    async def handle(self, kind: str, payload: Any) -> None:
        if kind == "headers":
            self._start(payload)
        elif kind == "data":
            await self._data(payload)
        else:
            self._end()

    def _start(self, headers: dict[bytes, bytes]) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise BadRequest(f"Too many form fields (more than {MAX_PARTS}).")
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self._part = _Part(
            name=name, filename=None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        )
        if self._part.filename is not None and name == self._file_field:
            if self.form.blob is not None:
                raise BadRequest(f"More than one file in form field {self._file_field!r}.")
            self.form.filename = self._part.filename
            sent = headers.get(b"content-type")
            self.form.content_type = sent.decode("latin-1") if sent is not None else None
            self.form.blob = self._part.target = self._new_blob()

    async def _data(self, chunk: bytes) -> None:
        part = self._part
        if part.target is not None:
            if part.target.size + len(chunk) > self._max_file:
                raise PayloadTooLarge(f"File too large. Limit is {self._max_file} bytes.")
            await part.target.write(chunk)
            return
        self._text_bytes += len(chunk)
        if self._text_bytes > MAX_TEXT_BYTES:
            raise PayloadTooLarge(f"Form fields are too large (more than {MAX_TEXT_BYTES} bytes).")
        if part.filename is None:  # other file parts (signatures) are not kept
            part.text += chunk

    def _end(self) -> None:
        part = self._part
        if part.target is None and part.filename is None:
            try:
                value = part.text.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"Form field {part.name!r} is not valid UTF-8.") from None
            self.form.fields.setdefault(part.name, []).append(value)
        self._part = _Part()


async def read_upload_form(
    request: Request, file_field: str, new_blob: Callable[[], IncomingBlob], max_file_bytes: int
) -> ReceivedForm:
    """Read the whole form (its file, if any, written but not yet finished: the caller finishes
    it with whatever it reads from it); the caller must ``discard()`` the result."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadRequest("The request must be multipart/form-data with a boundary.")
    if len(boundary) > MAX_BOUNDARY:  # RFC 2046 allows 70; nobody needs more than this
        raise BadRequest(f"The multipart boundary is longer than {MAX_BOUNDARY} characters.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_file_bytes + MAX_TEXT_BYTES:
        raise PayloadTooLarge(f"File too large. Limit is {max_file_bytes} bytes.")
    events = _Events()
    parser = MultipartParser(boundary, events.callbacks())  # type: ignore[arg-type]
    reader = _FormReader(file_field, new_blob, max_file_bytes)
    try:
        async for chunk in idle_bounded(request):
            parser.write(chunk)
            for kind, payload in events.drain():
                await reader.handle(kind, payload)
                if kind == "headers" and reader.form.filename:  # the audit log names the file, whatever happens next
                    request.state.audit_detail = request.state.audit_resource_name = reader.form.filename
        parser.finalize()
        for kind, payload in events.drain():
            await reader.handle(kind, payload)
    except MultipartParseError as exc:
        reader.form.discard()
        raise BadRequest(f"Malformed multipart body: {exc}") from None
    except BaseException:
        reader.form.discard()
        raise
    return reader.form
