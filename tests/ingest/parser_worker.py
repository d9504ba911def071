"""A subprocess that runs ingest's body decoders and envelope parser under a memory ceiling,
for ``test_ingest_parser_properties``.

It imports them, sets ``RLIMIT_AS`` to the address space it uses then plus ``--headroom``
bytes, and answers requests read from stdin (length-prefixed pickles) on stdout:

    {"op": "read", "chunks": [bytes, ...], "fail": str | None, "content_length": str | None}
    {"op": "decode", "body": bytes, "encoding": str}
    {"op": "store", "body": bytes}
    {"op": "envelope", "body": bytes}

Each answer is ``{"status": 200, "result": ...}`` (the bytes read or decoded; for an envelope
its items as (type, payload) pairs, after parsing event and client report payloads as ingest
does), ``{"status": <4xx>, "detail": ...}`` for an ``IngestError``, ``{"status": "memory"}``
when the ceiling was hit, or ``{"status": "crash", "error": ...}`` for anything else.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import struct
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ingest.bodies import decode_content, decode_legacy_store_body, read_body
from ingest.envelope import (
    EVENT_LIKE_TYPES,
    client_report,
    json_object,
    parse_envelope,
)
from ingest.errors import IngestError

MAX_REQUEST = 64 * 1024
MAX_DECOMPRESSED = 256 * 1024
MAX_EVENT = 32 * 1024


class FailingRead(Exception):
    """Stands for a server's own exception while it reads a body (gunicorn's NoMoreData...)."""


class Stream:
    """A WSGI input that hands out ``chunks`` one read at a time, then fails if asked to."""

    def __init__(self, chunks: list[bytes], fail: str | None) -> None:
        self.chunks = list(chunks)
        self.fail = fail

    def read(self, size: int) -> bytes:
        if self.chunks:
            chunk = self.chunks.pop(0)
            if len(chunk) > size:
                self.chunks.insert(0, chunk[size:])
                chunk = chunk[:size]
            return chunk
        if self.fail == "oserror":
            raise OSError("connection reset")
        if self.fail == "parse":
            raise FailingRead("bad chunk")
        return b""


def handle(request: dict[str, Any]) -> Any:
    op = request["op"]
    if op == "read":
        environ: dict[str, Any] = {"wsgi.input": Stream(request["chunks"], request["fail"])}
        if request["content_length"] is not None:
            environ["CONTENT_LENGTH"] = request["content_length"]
        else:
            environ["wsgi.input_terminated"] = True
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        return read_body(environ, max_request=MAX_REQUEST)
    if op == "decode":
        return decode_content(
            request["body"], request["encoding"], max_decompressed=MAX_DECOMPRESSED
        )
    if op == "store":
        return decode_legacy_store_body(request["body"], max_decompressed=MAX_DECOMPRESSED)
    envelope = parse_envelope(request["body"], max_event_bytes=MAX_EVENT)
    for item in envelope.items:
        if item.type in EVENT_LIKE_TYPES:
            json_object(item.payload, "event")
        elif item.type == "client_report":
            client_report(item.payload)
    return [(item.type, item.payload) for item in envelope.items]


def answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"status": 200, "result": handle(request)}
    except IngestError as exc:
        return {"status": exc.status, "detail": exc.detail}
    except MemoryError:
        return {"status": "memory"}
    except Exception:
        return {"status": "crash", "error": traceback.format_exc()}


def address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--headroom", type=int, required=True)
    args = parser.parse_args()
    ceiling = address_space() + args.headroom
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(struct.pack("!Q", ceiling))
    stdout.flush()
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        (size,) = struct.unpack("!Q", header)
        reply = pickle.dumps(answer(pickle.loads(stdin.read(size))))
        stdout.write(struct.pack("!Q", len(reply)) + reply)
        stdout.flush()


if __name__ == "__main__":
    main()
