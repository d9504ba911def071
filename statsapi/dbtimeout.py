"""A client-side deadline on every wait for PostgreSQL, so a server that accepts connections and
never answers (or stops answering on an open connection) costs a request seconds, not the
worker.

libpq's ``connect_timeout`` and the server's ``statement_timeout`` (statsapi/settings.py) do not
cover a server that has stopped answering: a frozen server cancels nothing, and the kernel of
a stopped host still acknowledges our packets. So psycopg2 runs in its "green" mode with a
wait callback of our own: libpq works non-blocking and this callback waits for the socket with
a deadline. Past it, the callback raises ``OperationalError``; psycopg2 then closes the
connection (its state is unknown) and Django opens a new one on the next request. The API
answers the error with a 503 (statsapi.errors).

Deadlines: ``connect_seconds`` for opening a connection (psycopg2 does not apply libpq's
``connect_timeout`` in green mode), ``query_seconds`` for each query's answer (the settings
make it the statement timeout plus the connect timeout: the server's own cancel comes first).
"""

from __future__ import annotations

import select
import time
from typing import Any

import psycopg2  # type: ignore[import-untyped, unused-ignore]
from psycopg2 import extensions  # type: ignore[import-untyped, unused-ignore]

_deadlines: dict[str, float | None] = {"connect": 3.0, "query": 8.0}


# poll() events to wait for, by psycopg2 poll state (select.poll has no limit on fd numbers).
WAIT_EVENTS = {
    extensions.POLL_READ: select.POLLIN | select.POLLERR | select.POLLHUP,
    extensions.POLL_WRITE: select.POLLOUT | select.POLLERR | select.POLLHUP,
}


def wait_with_deadline(conn: Any) -> None:
    """psycopg2 wait callback: poll ``conn`` until its operation completes, waiting on its
    socket at most until the deadline of the operation (connect or query)."""
    connecting = conn.status == extensions.STATUS_SETUP
    limit = _deadlines["connect" if connecting else "query"]
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state not in WAIT_EVENTS:
            raise psycopg2.OperationalError(f"unexpected psycopg2 poll state {state!r}")
        timeout_ms = None
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = "accept a connection" if connecting else "answer"
                # A psycopg2 OperationalError: Django raises it as django.db.OperationalError.
                raise psycopg2.OperationalError(
                    f"PostgreSQL did not {what} within {limit:g} seconds"
                )
            timeout_ms = max(1, int(remaining * 1000))
        poller = select.poll()
        poller.register(conn.fileno(), WAIT_EVENTS[state])
        poller.poll(timeout_ms)


def install(*, connect_seconds: float, query_seconds: float | None) -> None:
    """Use ``wait_with_deadline`` for every psycopg2 connection of this process
    (``query_seconds`` None: no deadline on queries)."""
    _deadlines["connect"] = connect_seconds
    _deadlines["query"] = query_seconds
    extensions.set_wait_callback(wait_with_deadline)
