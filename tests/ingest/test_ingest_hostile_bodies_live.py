"""Hostile bodies against the app under gunicorn (2 sync workers, DEBUG=False, the default
limits), where the server's own de-chunking and a worker's real memory are part of the answer.

- A malformed or cut-off chunked body is a 400 JSON ``{"detail": ...}``, counted nowhere, and
  the server goes on serving.
- Decompression and JSON bombs (issue 10: gzip members decompressed again and again, client
  reports and header lines of tens of millions of objects, many events full of objects) are
  answered with a 4xx before gunicorn's 30 s worker timeout, the worker is not replaced, and
  no worker's peak resident memory (VmHWM) goes past WORKER_MEMORY_CEILING_KB.
"""

from __future__ import annotations

import gzip
import json
import socket
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from ingest_helpers import (
    event_envelope,
    gunicorn_server,
    http_post,
    make_key,
    outcome_totals,
    same_everywhere,
    totals,
)

from organizations.models import ProjectKey

# A worker holds Django, redis-py and psycopg2 (about 90 MB) and, at the default limits, up to
# a 100 MiB decompressed body. Before the fixes these attacks took a worker to 2.5 GB and more.
WORKER_MEMORY_CEILING_KB = 320 * 1024
MIB = 1024 * 1024


def raw_exchange(base_url: str, request: bytes, *, half_close: bool = False) -> bytes:
    """Send ``request`` as is on a new connection (closing our sending side afterwards when
    ``half_close``, as a client that gives up mid-upload) and read the whole answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return answer
            answer += data


def chunked_request(key: ProjectKey, base_url: str, body: bytes) -> bytes:
    host = urlsplit(base_url).netloc
    head = (
        f"POST /api/{key.project_id}/envelope/?sentry_key={key.public_key} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/x-sentry-envelope\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def status_and_json(answer: bytes) -> tuple[int, dict[str, str], object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        raise AssertionError("the test expects a response with a Content-Length")
    return status, headers, json.loads(body)


ENVELOPE = event_envelope()
CHUNK = b"%x\r\n%s\r\n" % (len(ENVELOPE), ENVELOPE)
MALFORMED_CHUNKED = {
    "chunk size not hex": b"zz\r\n" + ENVELOPE + b"\r\n0\r\n\r\n",
    "negative chunk size": b"-5\r\nhello\r\n0\r\n\r\n",
    "chunk without its CRLF": b"%x\r\n%sXX0\r\n\r\n" % (len(ENVELOPE), ENVELOPE),
    "bad trailer": CHUNK + b"0\r\nno colon here\r\n\r\n",
}
TRUNCATED_CHUNKED = {
    "cut inside a chunk": CHUNK[: len(CHUNK) // 2],
    "cut before the last chunk": CHUNK,
    "cut inside the chunk size": CHUNK + b"1",
    "cut short of a chunk size of 40 hex digits": b"f" * 40 + b"\r\n" + ENVELOPE,
}


def test_malformed_and_truncated_chunked_bodies_are_400_and_count_nothing(
    transactional_db: None, redis_prefix: str
) -> None:
    key = make_key()
    with gunicorn_server(redis_prefix) as base_url:
        for name, body in [*MALFORMED_CHUNKED.items(), *TRUNCATED_CHUNKED.items()]:
            answer = raw_exchange(
                base_url, chunked_request(key, base_url, body), half_close=name.startswith("cut")
            )
            status, headers, payload = status_and_json(answer)
            assert status == 400, (name, answer[:300])
            assert headers["content-type"] == "application/json", name
            assert headers["access-control-allow-origin"] == "*", name
            assert isinstance(payload, dict), name
            assert "request body" in payload["detail"], (name, payload)
        # A well-formed chunked upload on the same server still counts, once.
        status, _, _ = http_post(
            base_url,
            f"/api/{key.project_id}/envelope/?sentry_key={key.public_key}",
            ENVELOPE,
            {"Content-Type": "application/x-sentry-envelope"},
            chunked=True,
        )
        assert status == 200
    assert totals(key) == same_everywhere(1)
    # Nothing of the refused bodies was known: no outcome either.
    assert outcome_totals(key) == {("error", "accepted", None): 1}


# -- memory -----------------------------------------------------------------------------------


def gzip_stream(pieces: Iterator[bytes]) -> bytes:
    """One gzip member of everything ``pieces`` yields, compressed as it comes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [compressor.compress(piece) for piece in pieces]
    out.append(compressor.flush())
    return b"".join(out)


def many_objects(prefix: bytes, count: int, suffix: bytes) -> Iterator[bytes]:
    """``prefix``, then ``{},`` ``count`` times (the last without its comma), then ``suffix``."""
    yield prefix
    block = b"{}," * 100_000
    for _ in range(count // 100_000):
        yield block
    yield b"{}" + suffix


OBJECTS = 33_000_000  # about 100 MB of ``{},``: just under the decompressed-body limit
# name -> (how to build the body, the status it gets). Built when the test runs: compressing
# 100 MB takes a second or two each.
ATTACKS: dict[str, tuple[Callable[[], bytes], int]] = {
    "three members of 300 KB of zeros": (
        lambda: b"".join(gzip.compress(b"\0" * 300_000, 9) for _ in range(3)),
        413,
    ),
    "64 members of 1.5 MiB of zeros": (
        lambda: b"".join(gzip.compress(b"\0" * (3 * MIB // 2), 9) for _ in range(64)),
        413,
    ),
    "a client report of 33 million entries": (
        lambda: gzip_stream(
            many_objects(b'{}\n{"type":"client_report"}\n{"discarded_events":[', OBJECTS, b"]}\n")
        ),
        413,
    ),
    "an envelope header of 33 million objects": (
        lambda: gzip_stream(many_objects(b'{"x":[', OBJECTS, b']}\n{"type":"event"}\n{}\n')),
        413,
    ),
    "an item header of 33 million objects": (
        lambda: gzip_stream(many_objects(b'{}\n{"type":"session","x":[', OBJECTS, b"]}\n{}\n")),
        413,
    ),
    "90 events of a million objects each": (
        lambda: gzip_stream(
            iter([b"{}\n"] + [b'{"type":"event"}\n{"a":[' + b"{}," * 349_000 + b"{}]}\n"] * 90)
        ),
        413,
    ),
}


def worker_pids(port: int) -> list[int]:
    """The gunicorn worker processes serving ``port`` (children of its master)."""
    bind = f"127.0.0.1:{port}".encode()
    serving = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if b"gunicorn" in cmdline and bind in cmdline.split(b"\0"):
            serving[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # its ppid
    return sorted(pid for pid, ppid in serving.items() if ppid in serving)


def peak_memory_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM) since it started or since the last
    ``reset_peak_memory``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def reset_peak_memory(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := current RSS (Linux >= 4.0)


def test_bombs_are_refused_fast_within_a_memory_ceiling(
    transactional_db: None, redis_prefix: str
) -> None:
    key = make_key()
    peaks: dict[str, int] = {}
    with gunicorn_server(redis_prefix) as base_url:
        port = urlsplit(base_url).port
        assert port is not None
        workers = worker_pids(port)
        assert len(workers) == 2
        for attack, (build, status) in ATTACKS.items():
            body = build()
            assert len(body) < 100 * 1024, attack  # small as sent: the point of a bomb
            for pid in workers:
                reset_peak_memory(pid)
            # Sent twice, so whichever worker takes each request, the attack reached one; the
            # peak of every worker is read.
            for _ in range(2):
                answer_status, _, answer = http_post(
                    base_url,
                    f"/api/{key.project_id}/envelope/",
                    body,
                    {
                        "Content-Encoding": "gzip",
                        "X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7",
                    },
                )
                assert answer_status == status, (attack, answer[:300])
                assert json.loads(answer)["detail"], attack
            peaks[attack] = max(peak_memory_kb(pid) for pid in workers)
        assert worker_pids(port) == workers, "a worker was killed and replaced"
    print("worker peak memory (MiB):", {name: kb // 1024 for name, kb in peaks.items()})
    assert max(peaks.values()) < WORKER_MEMORY_CEILING_KB, peaks
    assert totals(key) == same_everywhere(0)
