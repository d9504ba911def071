"""Ingest behind the compose file's nginx proxy: X-Forwarded-For as the proxy sets it lets
ingest's trusted-proxy setting (INGEST_TRUSTED_PROXIES) find the sender's address, which the
project's IP filter then sees; an address a client claims for itself is not believed.

nginx runs the proxy configuration rendered as the official image renders it
(``tests/nginx_proxy.py``), in front of the Docker image's gunicorn; clients connect from
distinct loopback addresses (127.0.0.2, 127.0.0.3).
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from compose_redis import compose_config
from ingest_helpers import event_envelope, make_key, totals
from live_server import database_url, environment, free_port, gunicorn_server
from nginx_proxy import NginxProcess, proxy_variables, raw_request, write_config

from ingest.models import InboundFilters


@pytest.mark.django_db(transaction=True)
def test_ingest_sees_the_sender_address_through_the_proxy(
    tmp_path: Path, settings: Any, redis_prefix: str
) -> None:
    key = make_key()
    InboundFilters.objects.update_or_create(
        project=key.project, defaults={"blacklisted_ips": "127.0.0.2"}
    )
    web = compose_config()["services"]["web"]["environment"]
    # In compose the proxy reaches web from a private address of the compose network, which
    # the compose file's INGEST_TRUSTED_PROXIES covers; here it comes from 127.0.0.1.
    trusted = web["INGEST_TRUSTED_PROXIES"] + ",127.0.0.1"
    env = environment(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        TSDB_PREFIX=redis_prefix + "ts:",
        QUOTAS_PREFIX=redis_prefix + "quota:",
        INGEST_TRUSTED_PROXIES=trusted,
        DEBUG="False",
        SECRET_KEY="ingest-tests-" + uuid.uuid4().hex,
    )
    body = event_envelope()

    def envelope(*headers: str) -> bytes:
        lines = [
            f"POST /api/{key.project_id}/envelope/ HTTP/1.1",
            "Host: 127.0.0.1",
            "Connection: close",
            f"X-Sentry-Auth: Sentry sentry_key={key.public_key}, sentry_version=7",
            f"Content-Length: {len(body)}",
            *headers,
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    with ExitStack() as stack:
        upstream = free_port()
        stack.enter_context(gunicorn_server(upstream, env))
        port = free_port()
        config = write_config(tmp_path, proxy_variables(f"127.0.0.1:{upstream}"), port)
        proxy = NginxProcess(config, port)
        stack.callback(proxy.stop)

        # From the filtered address: filtered.
        assert raw_request(port, envelope(), source="127.0.0.2")[0] == 200
        assert totals(key)["key"] == (1, 0, 1)
        # From another address claiming to be the filtered one: the claim is not believed.
        spoofed = envelope("X-Forwarded-For: 127.0.0.2")
        assert raw_request(port, spoofed, source="127.0.0.3")[0] == 200
        assert totals(key)["key"] == (2, 0, 1)
