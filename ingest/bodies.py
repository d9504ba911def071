"""Reading an ingest body from the WSGI stream and undoing its content encodings.

Django's ``request.body`` sees a chunked request as empty (no Content-Length) and refuses
bodies over DATA_UPLOAD_MAX_MEMORY_SIZE, so the raw ``wsgi.input`` is read here. gunicorn
de-chunks it and marks that with ``wsgi.input_terminated``; a server that does not (runserver)
gets 411 for a chunked body instead of a hang.

Every limit is enforced while reading or decompressing: at most ``max_request`` bytes are read
and at most ``max_decompressed`` bytes are produced, whatever the compression ratio, all gzip
members together. Each compressed byte is decompressed once, in bounded steps. A body the
server cannot give (malformed chunks, an upload cut off) is a 400.
"""

from __future__ import annotations

import base64
import binascii
import io
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import brotli

from ingest.errors import IngestError, bad_request, too_large

READ_CHUNK = 64 * 1024
DECOMPRESS_CHUNK = 256 * 1024
INFLATE_INPUT_CHUNK = 64 * 1024
# Each coding is another pass over up to the decompressed cap, and each gzip member costs a
# decompressor; no SDK sends more than one of either.
MAX_CODINGS = 2
MAX_GZIP_MEMBERS = 64


def read_body(environ: Mapping[str, Any], *, max_request: int) -> bytes:
    """The raw request body; 413 past ``max_request`` bytes, 411 for a chunked body the server
    did not de-chunk, 400 for one it could not (or a body shorter than its Content-Length)."""
    stream = environ.get("wsgi.input")
    raw_length = environ.get("CONTENT_LENGTH") or ""
    if raw_length:
        try:
            length = int(raw_length)
        except ValueError:
            raise bad_request("Invalid Content-Length header") from None
        if length < 0:
            raise bad_request("Invalid Content-Length header")
        if length > max_request:
            raise too_large(f"Request body larger than {max_request} bytes")
        return _read_exactly(stream, length) if length else b""
    chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    if not environ.get("wsgi.input_terminated"):
        if chunked:
            raise IngestError(
                411, "Chunked request bodies need a server that de-chunks them (gunicorn)"
            )
        return b""
    return _read_to_end(stream, max_request)


def _read_exactly(stream: Any, length: int) -> bytes:
    parts = []
    remaining = length
    while remaining > 0:
        data = _read(stream, min(READ_CHUNK, remaining))
        if not data:
            raise bad_request("Request body shorter than its Content-Length")
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def _read_to_end(stream: Any, max_request: int) -> bytes:
    return _capped(
        lambda size: _read(stream, size), max_request, chunk=READ_CHUNK, what="Request body"
    )


def _read(stream: Any, size: int) -> bytes:
    """``stream.read(size)``; 400 when the server cannot give the body.

    gunicorn de-chunks while the body is read, so a malformed chunked body (a chunk size that
    is not hex, a chunk not followed by CRLF, a bad trailer) surfaces here as one of its
    ``ParseException``s, and an upload cut off before its last chunk as ``NoMoreData`` (an
    ``OSError``, as is a connection reset mid-read). Whatever the server raises while reading
    means the request has no body to read: it is the client's 400, not a server error."""
    try:
        return bytes(stream.read(size))
    except Exception as exc:
        detail = _FRAMING_ERRORS.get(type(exc).__name__, "it could not be read")
        raise bad_request(f"Malformed or incomplete request body: {detail}") from None


# gunicorn's exception class names -> what the client did wrong.
_FRAMING_ERRORS = {
    "NoMoreData": "it ended before its last chunk",
    "InvalidChunkSize": "a chunk size is not a hexadecimal number",
    "ChunkMissingTerminator": "a chunk is not followed by CRLF",
    "InvalidChunkExtension": "a chunk extension is invalid",
    "InvalidHeader": "its trailer is invalid",
    "LimitRequestHeaders": "its trailer is too large",
}


def _capped(
    produce: Callable[[int], bytes],
    cap: int,
    *,
    chunk: int = DECOMPRESS_CHUNK,
    what: str = "Decompressed body",
) -> bytes:
    """Collect output from ``produce(max_bytes)`` until it returns nothing, never holding
    more than ``cap`` bytes; 413 naming ``what`` past it."""
    collected = io.BytesIO()
    total = 0
    while True:
        out = produce(min(chunk, cap - total + 1))
        if not out:
            return collected.getvalue()
        total += len(out)
        if total > cap:
            raise too_large(f"{what} larger than {cap} bytes")
        collected.write(out)


def _inflate(data: bytes, wbits: int, cap: int) -> bytes:
    """zlib/gzip/raw deflate (by ``wbits``), concatenated gzip members included.

    The input is fed in slices of at most INFLATE_INPUT_CHUNK bytes and each call produces at
    most DECOMPRESS_CHUNK bytes, so every compressed byte is decompressed once and no call
    does more than a bounded amount of work. When a member ends, the input it did not use
    (``unused_data``, at most one slice) is where the next member starts. Every member's output
    counts against ``cap``, and there are at most MAX_GZIP_MEMBERS members."""
    gzip = bool(wbits & 16)
    view = memoryview(data)
    size = len(data)
    # getvalue() hands over BytesIO's own buffer: the output is held once, not twice as a
    # list of parts and their join would.
    collected = io.BytesIO()
    total = 0
    pos = 0  # input before ``pos`` has been fed to a decompressor
    members = 0
    while True:
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise bad_request(
                f"More than {MAX_GZIP_MEMBERS} gzip members", reason="invalid_compression"
            )
        d = zlib.decompressobj(wbits)
        pending: bytes | memoryview = b""
        while not d.eof:
            if not pending and pos < size:
                pending = view[pos : pos + INFLATE_INPUT_CHUNK]
                pos += len(pending)
            out = d.decompress(pending, min(DECOMPRESS_CHUNK, cap - total + 1))
            pending = d.unconsumed_tail
            if not out and not pending and pos >= size and not d.eof:
                raise bad_request("Truncated compressed body", reason="invalid_compression")
            total += len(out)
            if total > cap:
                raise too_large(f"Decompressed body larger than {cap} bytes")
            collected.write(out)
        pos -= len(d.unused_data)  # fed past this member's end: the next member's start
        if not gzip or pos >= size:
            break
        if data[pos] == 0 and not data[pos:].strip(b"\x00"):
            break  # zero padding after the last member (some tools write it)
    return collected.getvalue()


def _unbrotli(data: bytes, cap: int) -> bytes:
    d = brotli.Decompressor()
    first = True

    def produce(limit: int) -> bytes:
        nonlocal first
        if first:
            first = False
            out: bytes = d.process(data, output_buffer_limit=limit)
            return out
        if d.is_finished():
            return b""
        # Input stays buffered inside the decompressor; empty input drains it.
        rest: bytes = d.process(b"", output_buffer_limit=limit)
        return rest

    out = _capped(produce, cap)
    if not d.is_finished():
        raise bad_request("Truncated brotli body", reason="invalid_compression")
    return out


def decode_content(data: bytes, encoding: str, *, max_decompressed: int) -> bytes:
    """Undo ``Content-Encoding`` (``gzip``, ``deflate``, ``br``, ``identity``, or a list of at
    most MAX_CODINGS of them applied in order). 400 for a corrupt body, 413 past
    ``max_decompressed``, 415 for an unknown encoding or too many."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_CODINGS:
        raise IngestError(
            415,
            f"At most {MAX_CODINGS} content encodings are supported",
            reason="invalid_compression",
        )
    for coding in reversed(codings):
        try:
            if coding in ("gzip", "x-gzip"):
                data = _inflate(data, 16 + zlib.MAX_WBITS, max_decompressed)
            elif coding == "deflate":
                try:
                    data = _inflate(data, zlib.MAX_WBITS, max_decompressed)
                except zlib.error:
                    data = _inflate(data, -zlib.MAX_WBITS, max_decompressed)
            elif coding == "br":
                data = _unbrotli(data, max_decompressed)
            else:
                raise IngestError(
                    415, f"Unsupported Content-Encoding {coding!r}", reason="invalid_compression"
                )
        except (zlib.error, brotli.error):
            raise bad_request(
                f"Body is not valid {coding} data", reason="invalid_compression"
            ) from None
    if len(data) > max_decompressed:
        raise too_large(f"Decompressed body larger than {max_decompressed} bytes")
    return data


def decode_legacy_store_body(data: bytes, *, max_decompressed: int) -> bytes:
    """raven-node (and other old clients) post base64(zlib(json)) to /store/ without a
    Content-Encoding header. A body that does not start with ``{`` is tried that way."""
    stripped = data.lstrip()
    if not stripped or stripped[:1] == b"{":
        return data
    try:
        compressed = base64.b64decode(stripped, validate=False)
    except (binascii.Error, ValueError):
        raise bad_request("Body is neither JSON nor base64", reason="invalid_json") from None
    try:
        return _inflate(compressed, zlib.MAX_WBITS, max_decompressed)
    except zlib.error:
        raise bad_request(
            "Body is neither JSON nor base64-encoded zlib", reason="invalid_compression"
        ) from None
