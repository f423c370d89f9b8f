"""pypiserver, with its uploads written as durably as Qarion writes a blob: for comparison only.

pypiserver writes an upload straight to its final name and never syncs it, so after a crash a
file may be missing, or there but short. This wrapper changes only that: the upload goes to a
temporary file beside its final name, is synced, renamed into place, and the rename is synced
(its directory). Nothing else of pypiserver changes: it still checks no digest and reads no
metadata. ``upload_rounds.py`` and ``upload_latency.py`` run it as the variant
``pypiserver-durable``, to show how much of the gap to pypiserver is the durability the issue
asks Qarion to keep. It is imported by gunicorn from pypiserver's own environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import pypiserver
from pypiserver import backend

_CHUNK = 1024 * 1024


def write_durably(source: BinaryIO, destination: str | os.PathLike[str]) -> None:
    final = Path(destination)
    offset = source.tell()
    descriptor, temporary = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
    try:
        with os.fdopen(descriptor, "wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        source.seek(offset)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


backend.write_file = write_durably  # SimpleFileBackend.add_package looks it up when it runs
app = pypiserver.app
