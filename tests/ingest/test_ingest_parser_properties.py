"""Properties of every body decoder and of the envelope parser, on random, truncated and
multi-member input, run in a subprocess under a memory ceiling (``parser_worker.py``: RLIMIT_AS
at what it uses after start-up plus HEADROOM, with limits of 64 KiB as sent, 256 KiB
decompressed and 32 KiB per event).

Whatever the input, the answer is a 4xx or a correct parse, never a crash and never more
memory than the ceiling:
- reading: the body is exactly what was sent, or 400 (cut short, the server's read failed)
  or 413 (past the limit);
- decoding: a well-formed body (gzip of any number of members, zlib, raw deflate, brotli, two
  codings) gives back exactly the original, or 413 past the limit; a truncated one is a 400
  unless it was cut at a member boundary, when it gives exactly the members before the cut;
  bombs (megabytes of zeros) are 413;
- envelopes: a well-formed one within the limits parses to exactly its items; mangled or
  random ones are a 4xx or a parse.

Bounded: about 150 examples per test (a few seconds each); FUZZ_EXAMPLES=<n> runs more.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
import pickle
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ingest.envelope import EVENT_LIKE_TYPES, SIZE_LIMITS

WORKER = Path(__file__).with_name("parser_worker.py")
MAX_REQUEST = 64 * 1024
MAX_DECOMPRESSED = 256 * 1024
MAX_EVENT = 32 * 1024
# The most the worker may allocate beyond its start-up size: a few times the decompressed
# limit for the decoders' buffers and parsed JSON, far below what one bomb took before the
# fixes (GBs).
HEADROOM = 64 * 1024 * 1024

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
PROPERTIES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), "--headroom", str(HEADROOM)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        (self.ceiling,) = struct.unpack("!Q", self._read(8))

    def _read(self, size: int) -> bytes:
        assert self.process.stdout is not None
        data = self.process.stdout.read(size)
        if len(data) < size:
            raise AssertionError(f"the parser worker died (exit {self.process.wait()})")
        return data

    def ask(self, *, record: bool = True, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        data = pickle.dumps(request)
        self.process.stdin.write(struct.pack("!Q", len(data)) + data)
        self.process.stdin.flush()
        (size,) = struct.unpack("!Q", self._read(8))
        reply: dict[str, Any] = pickle.loads(self._read(size))
        if record:  # --hypothesis-show-statistics shows the mix
            event(f"{request['op']}: {reply['status']}")
        assert reply["status"] not in ("memory", "crash"), reply
        return reply

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    process = Worker()
    yield process
    process.close()


def test_the_worker_really_has_a_ceiling(worker: Worker) -> None:
    # Twice the headroom of zeros in one gzip member: decompressed whole, it would not fit
    # under the ceiling (MemoryError); at the 256 KiB limit it is a 413.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * (1024 * 1024)
    blocks = 2 * HEADROOM // len(block)
    bomb = b"".join(compressor.compress(block) for _ in range(blocks)) + compressor.flush()
    assert worker.ask(op="decode", body=bomb, encoding="gzip", record=False)["status"] == 413
    assert worker.ceiling < 1024**3


# -- reading ------------------------------------------------------------------------------------


@PROPERTIES
@given(
    body=st.binary(max_size=2000) | st.integers(0, 3 * MAX_REQUEST).map(lambda n: b"b" * n),
    cuts=st.lists(st.integers(1, 5000), max_size=8),
    framing=st.sampled_from(["length", "chunked"]),
    fault=st.sampled_from([None, None, "short", "oserror", "parse", "bad-length"]),
)
def test_reading_gives_the_body_or_a_4xx(
    worker: Worker, body: bytes, cuts: list[int], framing: str, fault: str | None
) -> None:
    chunks, rest = [], body
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    chunks = [chunk for chunk in chunks if chunk]
    sent = chunks[:-1] if fault == "short" else chunks
    received = b"".join(sent)
    length: str | None = str(len(body)) if framing == "length" else None
    if fault == "bad-length":
        length = "12x"
    fail = fault if fault in ("oserror", "parse") else None
    reply = worker.ask(op="read", chunks=sent, fail=fail, content_length=length)
    if fault == "bad-length":
        expected = 400
    elif framing == "length":
        # Refused on its Content-Length before reading; then it must all arrive. The stream
        # fails only when read past the body, which a Content-Length read never does.
        expected = 413 if len(body) > MAX_REQUEST else 400 if sent != chunks else 200
    else:
        expected = 413 if len(received) > MAX_REQUEST else 400 if fail else 200
    assert reply["status"] == expected, reply
    if expected == 200:
        assert reply["result"] == received


# -- decoding -----------------------------------------------------------------------------------


def gzip_members(data: bytes, cuts: list[int]) -> tuple[bytes, dict[int, int]]:
    """``data`` as one gzip member per piece between ``cuts``, and where each member ends:
    its end in the compressed body -> its end in ``data``."""
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    if len(bounds) == 1:
        bounds = [0, 0]  # empty data: one empty member
    body = b""
    ends = {}
    for start, stop in itertools.pairwise(bounds):
        body += gzip.compress(data[start:stop], 6)
        ends[len(body)] = stop
    return body, ends


plain = st.one_of(
    st.binary(max_size=3000),
    st.builds(
        lambda unit, count: unit * count, st.binary(min_size=1, max_size=4), st.integers(0, 2000)
    ),
    st.integers(0, 3 * MAX_DECOMPRESSED).map(lambda n: b"\0" * n),
)


@PROPERTIES
@given(
    data=plain,
    coding=st.sampled_from(["gzip", "x-gzip", "deflate", "deflate-raw", "br", "br,gzip"]),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
    truncate=st.none() | st.integers(0, 10**6),
)
def test_decoding_gives_the_original_or_a_4xx(
    worker: Worker, data: bytes, coding: str, cuts: list[int], truncate: int | None
) -> None:
    ends: dict[int, int] = {}
    if coding in ("gzip", "x-gzip"):
        body, ends = gzip_members(data, cuts)
    elif coding == "deflate":
        body = zlib.compress(data)
    elif coding == "deflate-raw":
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        body, coding = compressor.compress(data) + compressor.flush(), "deflate"
    elif coding == "br":
        body = brotli.compress(data, quality=4)
    else:
        body, coding = gzip.compress(brotli.compress(data, quality=4)), "br, gzip"
    if truncate is not None and body:
        body = body[: truncate % len(body)]
    if len(body) > MAX_REQUEST:
        return  # refused before decoding: the reading test covers it
    reply = worker.ask(op="decode", body=body, encoding=coding)
    if truncate is None:
        if len(data) > MAX_DECOMPRESSED:
            assert reply["status"] == 413, reply
        else:
            assert reply["status"] == 200, reply
            assert reply["result"] == data
        return
    if reply["status"] == 200:
        # Only a gzip body cut exactly where a member ends decodes: to the members before it.
        assert len(body) in ends, (len(body), ends)
        assert reply["result"] == data[: ends[len(body)]]
    else:
        assert reply["status"] in (400, 413), reply


@PROPERTIES
@given(data=st.binary(max_size=3000), coding=st.sampled_from(["gzip", "deflate", "br", "zstd"]))
def test_random_bytes_are_never_a_crash(worker: Worker, data: bytes, coding: str) -> None:
    reply = worker.ask(op="decode", body=data, encoding=coding)
    assert reply["status"] in (200, 400, 413, 415), reply
    if coding == "zstd":
        assert reply["status"] == 415


@PROPERTIES
@given(
    event=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=5),
    wrap=st.sampled_from(["plain", "base64-zlib", "cut", "garbage"]),
    cut=st.integers(0, 10**6),
    garbage=st.binary(max_size=200),
)
def test_legacy_store_bodies_decode_or_are_refused(
    worker: Worker, event: dict[str, str], wrap: str, cut: int, garbage: bytes
) -> None:
    raw = json.dumps(event).encode()
    encoded = base64.b64encode(zlib.compress(raw))
    body = {
        "plain": raw,
        "base64-zlib": encoded,
        "cut": encoded[: cut % max(1, len(encoded))],
        "garbage": garbage,
    }[wrap]
    reply = worker.ask(op="store", body=body)
    if wrap in ("plain", "base64-zlib"):
        assert reply == {"status": 200, "result": raw}
    elif reply["status"] != 200:
        assert reply["status"] in (400, 413), reply


# -- envelopes ----------------------------------------------------------------------------------

ITEM_TYPES = ["event", "transaction", "attachment", "session", "client_report", "check_in", "x"]
json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def items(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(type, payload, explicit length)."""
    item_type = draw(st.sampled_from(ITEM_TYPES))
    if item_type in ("event", "transaction"):
        payload = json.dumps(draw(st.dictionaries(st.text(max_size=8), json_text))).encode()
    elif item_type == "client_report":
        payload = json.dumps(
            {
                "discarded_events": draw(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "reason": st.sampled_from(["queue_overflow", "ratelimit"]),
                                "category": st.sampled_from(["error", "span"]),
                                "quantity": st.integers(1, 100),
                            }
                        ),
                        max_size=5,
                    )
                )
            }
        ).encode()
    else:
        payload = draw(st.binary(max_size=300))
    explicit = draw(st.booleans()) or b"\n" in payload
    return item_type, payload, explicit


def within_limits(parts: list[tuple[str, bytes, bool]]) -> bool:
    """Whether an envelope of these items is within the parser's limits (the worker's event
    limit, ``SIZE_LIMITS`` for the rest)."""
    if sum(len(payload) for t, payload, _ in parts if t in EVENT_LIKE_TYPES) > MAX_EVENT:
        return False
    for limit in SIZE_LIMITS:
        mine = [payload for t, payload, _ in parts if t in limit.types]
        if sum(map(len, mine)) > limit.total_bytes:
            return False
        if limit.max_count is not None and len(mine) > limit.max_count:
            return False
    return True


def serialize(header: dict[str, Any], parts: list[tuple[str, bytes, bool]]) -> bytes:
    body = json.dumps(header).encode() + b"\n"
    for item_type, payload, explicit in parts:
        item_header: dict[str, Any] = {"type": item_type}
        if explicit:
            item_header["length"] = len(payload)
        body += json.dumps(item_header).encode() + b"\n" + payload + b"\n"
    return body


@PROPERTIES
@given(
    header=st.fixed_dictionaries({}, optional={"event_id": st.uuids().map(lambda u: u.hex)}),
    parts=st.lists(items(), max_size=6),
    mangle=st.sampled_from([None, None, "truncate", "insert", "flip"]),
    at=st.integers(0, 10**6),
    junk=st.binary(min_size=1, max_size=8),
    gzip_cuts=st.none() | st.lists(st.integers(0, 10**6), max_size=3),
)
def test_envelopes_parse_exactly_or_get_a_4xx(
    worker: Worker,
    header: dict[str, Any],
    parts: list[tuple[str, bytes, bool]],
    mangle: str | None,
    at: int,
    junk: bytes,
    gzip_cuts: list[int] | None,
) -> None:
    body = serialize(header, parts)
    position = at % (len(body) + 1)
    if mangle == "truncate":
        body = body[:position]
    elif mangle == "insert":
        body = body[:position] + junk + body[position:]
    elif mangle == "flip" and body:
        position %= len(body)
        body = body[:position] + bytes([body[position] ^ 0xFF]) + body[position + 1 :]
    if gzip_cuts is not None:
        # Through the decoder first, as a multi-member gzip body.
        compressed, _ = gzip_members(body, gzip_cuts)
        decoded = worker.ask(op="decode", body=compressed, encoding="gzip")
        assert decoded == {"status": 200, "result": body}
    reply = worker.ask(op="envelope", body=body)
    if mangle is None and within_limits(parts):
        assert reply["status"] == 200, reply
        assert reply["result"] == [(item_type, payload) for item_type, payload, _ in parts]
    else:
        assert reply["status"] in (200, 400, 413), reply


@PROPERTIES
@given(body=st.binary(max_size=2000))
def test_random_envelopes_are_a_4xx_or_a_parse(worker: Worker, body: bytes) -> None:
    assert worker.ask(op="envelope", body=body)["status"] in (200, 400, 413)
