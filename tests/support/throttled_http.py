"""A static HTTP server that sends files slowly, so a test can stop an import mid-transfer.

Usage: python throttled_http.py PORT DIRECTORY
"""

from __future__ import annotations

import functools
import http.server
import sys
import time
from typing import BinaryIO

CHUNK = 16 * 1024
PAUSE = 0.05


class Throttled(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        while chunk := source.read(CHUNK):
            outputfile.write(chunk)
            outputfile.flush()
            time.sleep(PAUSE)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    port, directory = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(Throttled, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
