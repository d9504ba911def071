"""The envelope and store endpoints: authentication, CORS, bodies, limits and malformed input.
Every refused request answers JSON ``{"detail": ...}`` and changes no count."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib
from typing import Any
from urllib.parse import quote

import brotli
import pytest
from django.test import Client
from ingest_helpers import (
    auth_headers,
    event_envelope,
    make_key,
    post,
    post_envelope,
    post_store,
    same_everywhere,
    totals,
)

from organizations.models import ProjectKey

NOTHING = same_everywhere(0)


def assert_refused(response, status: int, key: ProjectKey | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["detail"], str)
    # Browser SDKs must be able to read every answer, refusals included.
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Expose-Headers"] == "X-Sentry-Rate-Limits, Retry-After"
    if key is not None:
        assert totals(key) == NOTHING


# -- authentication ---------------------------------------------------------------------------


def test_it_accepts_the_x_sentry_auth_header(client: Client, key: ProjectKey) -> None:
    response = post_envelope(client, key, event_envelope())
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_accepts_an_authorization_sentry_header(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/envelope/",
        event_envelope(),
        HTTP_AUTHORIZATION=f"sentry sentry_key={key.public_key}, sentry_version=7",
    )
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_accepts_the_key_in_the_query_string(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/envelope/?sentry_key={key.public_key}&sentry_version=7"
        "&sentry_client=sentry.javascript.browser%2F8.0.0",
        event_envelope(),
        content_type="text/plain;charset=UTF-8",
    )
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_accepts_the_dsn_in_the_envelope_header(client: Client, key: ProjectKey) -> None:
    body = (
        json.dumps({"dsn": f"https://{key.public_key}@sentry.example.com/{key.project_id}"})
        + '\n{"type":"event"}\n{"message":"hi"}\n'
    )
    response = post(client, f"/api/{key.project_id}/envelope/", body.encode())
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_ignores_the_deprecated_secret(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/store/",
        b'{"message": "old client"}',
        content_type="application/json",
        HTTP_X_SENTRY_AUTH=(
            f"Sentry sentry_version=6, sentry_key={key.public_key}, sentry_secret=wrong"
        ),
    )
    assert response.status_code == 200, response.content


def test_it_refuses_a_request_without_credentials(client: Client, key: ProjectKey) -> None:
    for endpoint in ("envelope", "store"):
        response = post(client, f"/api/{key.project_id}/{endpoint}/", event_envelope())
        assert_refused(response, 401, key)
        assert response.json() == {"detail": "Unable to find authentication information"}


def test_it_refuses_an_unknown_key(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/envelope/",
        event_envelope(),
        HTTP_X_SENTRY_AUTH=f"Sentry sentry_key={uuid.uuid4().hex}, sentry_version=7",
    )
    assert_refused(response, 401, key)
    assert response.json() == {"detail": "Invalid api key"}


def test_it_refuses_a_disabled_key(client: Client, db: None) -> None:
    key = make_key(is_active=False)
    response = post_envelope(client, key, event_envelope())
    assert_refused(response, 401, key)
    assert response.json() == {"detail": "API key is disabled"}


def test_it_refuses_a_key_of_another_project(client: Client, key: ProjectKey) -> None:
    other = make_key()
    response = post(
        client,
        f"/api/{other.project_id}/envelope/",
        event_envelope(),
        **auth_headers(key),
    )
    assert_refused(response, 401, key)
    assert totals(other) == NOTHING


def test_it_refuses_two_places_naming_different_keys(client: Client, key: ProjectKey) -> None:
    other = ProjectKey.objects.create(project=key.project)
    response = post(
        client,
        f"/api/{key.project_id}/envelope/?sentry_key={other.public_key}",
        event_envelope(),
        **auth_headers(key),
    )
    assert_refused(response, 401, key)
    body = (
        json.dumps({"dsn": f"http://{other.public_key}@h/{key.project_id}"})
        + '\n{"type":"event"}\n{}\n'
    )
    assert_refused(post_envelope(client, key, body.encode()), 401, key)


def test_it_refuses_a_dsn_of_another_project(client: Client, key: ProjectKey) -> None:
    body = json.dumps({"dsn": f"http://{key.public_key}@h/999999"}) + '\n{"type":"event"}\n{}\n'
    assert_refused(post(client, f"/api/{key.project_id}/envelope/", body.encode()), 401, key)


def test_it_refuses_an_unsupported_protocol_version(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/envelope/",
        event_envelope(),
        HTTP_X_SENTRY_AUTH=f"Sentry sentry_key={key.public_key}, sentry_version=banana",
    )
    assert_refused(response, 400, key)


def test_project_zero_and_the_api_namespace_are_not_ingest(client: Client, key: ProjectKey) -> None:
    for path in ("/api/0/envelope/", "/api/0/store/", "/api/abc/envelope/", "/api/01/store/"):
        response = post(client, path, event_envelope(), **auth_headers(key))
        assert response.status_code == 404, (path, response.status_code)
    assert totals(key) == NOTHING


# -- CORS, methods, responses ----------------------------------------------------------------


def test_it_answers_cors_preflight(client: Client, key: ProjectKey) -> None:
    response = client.options(
        f"/api/{key.project_id}/envelope/",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"x-sentry-auth", "content-type", "content-encoding", "sentry-trace", "baggage"} <= (
        allowed
    )


def test_every_post_response_carries_cors_headers(client: Client, key: ProjectKey) -> None:
    for response in (
        post_envelope(client, key, event_envelope()),
        post(client, f"/api/{key.project_id}/store/", b"{}"),
    ):
        assert response["Access-Control-Allow-Origin"] == "*"
        exposed = response["Access-Control-Expose-Headers"]
        assert "X-Sentry-Rate-Limits" in exposed
        assert "Retry-After" in exposed


def test_it_refuses_other_methods(client: Client, key: ProjectKey) -> None:
    response = client.get(f"/api/{key.project_id}/envelope/", **auth_headers(key))
    assert_refused(response, 405, key)


def test_it_answers_the_event_id_as_32_hex(client: Client, key: ProjectKey) -> None:
    body = (
        '{"event_id":"173BD9EA-6802-4DD7-B10D-262BF83ABA01"}\n{"type":"event"}\n{"message":"x"}\n'
    )
    response = post_envelope(client, key, body.encode())
    assert response.status_code == 200, response.content
    assert response.json() == {"id": "173bd9ea68024dd7b10d262bf83aba01"}
    response = post_store(client, key, {"event_id": "0b2da8f1dd9343c0bfe8531090063277"})
    assert response.json() == {"id": "0b2da8f1dd9343c0bfe8531090063277"}


def test_it_accepts_an_envelope_without_event_id(client: Client, key: ProjectKey) -> None:
    response = post_envelope(client, key, b'{}\n{"type":"session"}\n{"started":"x"}')
    assert response.status_code == 200, response.content
    assert response.json() == {}


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),
        ("br", brotli.compress),
        ("identity", lambda data: data),
    ],
)
def test_it_decodes_each_content_encoding(
    client: Client, key: ProjectKey, encoding: str, compress
) -> None:
    response = post_envelope(
        client, key, compress(event_envelope()), HTTP_CONTENT_ENCODING=encoding
    )
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_decodes_base64_zlib_store_bodies(client: Client, key: ProjectKey) -> None:
    body = base64.b64encode(zlib.compress(b'{"message": "raven-node style"}'))
    response = post(
        client,
        f"/api/{key.project_id}/store/",
        body,
        content_type="application/octet-stream",
        **auth_headers(key, version=5),
    )
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_accepts_a_body_without_content_type(client: Client, key: ProjectKey) -> None:
    response = client.generic(
        "POST", f"/api/{key.project_id}/envelope/", event_envelope(), **auth_headers(key)
    )
    assert response.status_code == 200, response.content


def test_it_refuses_corrupt_compressed_bodies(client: Client, key: ProjectKey) -> None:
    for encoding in ("gzip", "deflate", "br"):
        response = post_envelope(
            client, key, b"definitely not compressed", HTTP_CONTENT_ENCODING=encoding
        )
        assert_refused(response, 400, key)
    truncated = gzip.compress(event_envelope())[:-12]
    assert_refused(post_envelope(client, key, truncated, HTTP_CONTENT_ENCODING="gzip"), 400, key)


def test_it_refuses_an_unknown_content_encoding(client: Client, key: ProjectKey) -> None:
    response = post_envelope(client, key, event_envelope(), HTTP_CONTENT_ENCODING="zstd")
    assert_refused(response, 415, key)


def test_it_refuses_a_chunked_body_it_cannot_read(client: Client, key: ProjectKey) -> None:
    # Django's test server, like runserver, does not de-chunk: 411 instead of a silent 200.
    response = post_envelope(
        client, key, event_envelope(), CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert_refused(response, 411, key)


# -- limits -------------------------------------------------------------------------------------


def test_it_refuses_a_request_over_20_mib_before_reading_it(
    client: Client, key: ProjectKey
) -> None:
    response = post_envelope(
        client, key, event_envelope(), CONTENT_LENGTH=str(20 * 1024 * 1024 + 1)
    )
    assert_refused(response, 413, key)


def test_it_stops_decompressing_at_100_mib(client: Client, key: ProjectKey) -> None:
    header = b'{}\n{"type":"attachment"}\n'
    bomb = gzip.compress(header + b"\0" * (101 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200 * 1024
    response = post_envelope(client, key, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert_refused(response, 413, key)
    br_bomb = brotli.compress(header + b"\0" * (101 * 1024 * 1024), quality=5)
    response = post_envelope(client, key, br_bomb, HTTP_CONTENT_ENCODING="br")
    assert_refused(response, 413, key)


def test_it_refuses_an_event_over_1_mib(client: Client, key: ProjectKey) -> None:
    event = {"message": "x" * (1024 * 1024)}
    assert_refused(post_envelope(client, key, event_envelope(event)), 413, key)
    assert_refused(post_store(client, key, event), 413, key)


def test_it_accepts_an_event_just_under_1_mib(client: Client, key: ProjectKey) -> None:
    event = {"message": "x" * (1024 * 1024 - 100)}
    assert post_envelope(client, key, event_envelope(event)).status_code == 200
    assert totals(key) == same_everywhere(1)


# -- malformed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json at all\n",
        b"[1,2]\n",
        b'{"event_id":"not-a-uuid"}\n{"type":"event"}\n{}\n',
        b'{}\n{"type":"event","length":99}\n{"message":"short"}\n',
        b'{}\n{"type":"event","length":-1}\n{}\n',
        b'{}\n{"type":"event","length":2}\n{}}\n',
        b'{}\n{"length":2}\n{}\n',
        b"{}\nnot an item header\n{}\n",
        b'{}\n{"type":"event"}\nnot json\n',
        b'{}\n{"type":"event"}\n[1]\n',
        b'{}\n{"type":"session"}\n{}\n{"type":"event"}\n{"broken\n',
    ],
)
def test_it_refuses_malformed_envelopes(client: Client, key: ProjectKey, body: bytes) -> None:
    assert_refused(post_envelope(client, key, body), 400, key)


@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b'"a string"', b"!!!!"])
def test_it_refuses_malformed_store_bodies(client: Client, key: ProjectKey, body: bytes) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/store/",
        body,
        content_type="application/json",
        **auth_headers(key),
    )
    assert_refused(response, 400, key)


# -- hostile input --------------------------------------------------------------------------------

DEEP = b"[" * 100_000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # Header lines this long are over their size limit before they are parsed.
        (b'{"a":' + DEEP + b"\n", 413),
        (b"{}\n" + DEEP + b"\n", 413),
        (b'{}\n{"type":"event"}\n' + DEEP + b"\n", 400),
        (
            b'{}\n{"type":"client_report"}\n' + DEEP + b"\n" + b'{"type":"event"}\n' + DEEP + b"\n",
            400,
        ),
    ],
    ids=["envelope-header", "item-header", "event", "client-report-then-event"],
)
def test_it_refuses_deeply_nested_json(
    client: Client, key: ProjectKey, body: bytes, status: int
) -> None:
    assert_refused(post_envelope(client, key, body), status, key)


def test_it_refuses_a_deeply_nested_store_body(client: Client, key: ProjectKey) -> None:
    response = post(client, f"/api/{key.project_id}/store/", b'{"a":' + DEEP, **auth_headers(key))
    assert_refused(response, 400, key)


@pytest.mark.parametrize(
    "public_key",
    ["\x00" + "a" * 31, "g" * 32, "A" * 31 + "\u00e9", "%00" + "a" * 29],
    ids=["nul", "not-hex", "latin-1", "percent"],
)
def test_it_refuses_a_key_that_is_not_32_hex_without_failing(
    client: Client, key: ProjectKey, public_key: str
) -> None:
    path = f"/api/{key.project_id}/envelope/"
    for response in (
        post(client, path, event_envelope(), HTTP_X_SENTRY_AUTH=f"Sentry sentry_key={public_key}"),
        post(client, f"{path}?sentry_key={quote(public_key)}", event_envelope()),
        post(
            client,
            path,
            json.dumps({"dsn": f"http://{public_key}@h/{key.project_id}"}).encode()
            + b'\n{"type":"event"}\n{}\n',
        ),
    ):
        assert_refused(response, 401, key)
        assert response.json() == {"detail": "Invalid api key"}


def test_it_answers_json_to_a_query_string_with_too_many_fields(
    client: Client, key: ProjectKey
) -> None:
    query = "&".join(f"f{n}=1" for n in range(2000))
    response = post(
        client,
        f"/api/{key.project_id}/envelope/?{query}&sentry_key={key.public_key}",
        event_envelope(),
    )
    assert_refused(response, 400, key)
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "project_id", ["0", "-1", "1e3", "abc", "9" * 19, "99999999999999999999999999", "%C3%A9"]
)
def test_it_answers_json_404_to_a_project_id_that_cannot_exist(
    client: Client, key: ProjectKey, project_id: str
) -> None:
    for endpoint in ("envelope", "store"):
        response = post(
            client, f"/api/{project_id}/{endpoint}/", event_envelope(), **auth_headers(key)
        )
        assert_refused(response, 404, key)
        assert response["Access-Control-Allow-Origin"] == "*"


def test_it_keeps_the_detail_of_a_bad_version_short(client: Client, key: ProjectKey) -> None:
    response = post(
        client,
        f"/api/{key.project_id}/envelope/",
        event_envelope(),
        HTTP_X_SENTRY_AUTH=f"Sentry sentry_key={key.public_key}, sentry_version={'9' * 5000}",
    )
    assert_refused(response, 400, key)
    assert len(response.json()["detail"]) < 200


def test_it_refuses_more_than_two_content_encodings(client: Client, key: ProjectKey) -> None:
    body = event_envelope()
    for _ in range(3):
        body = gzip.compress(body)
    response = post_envelope(client, key, body, HTTP_CONTENT_ENCODING="gzip, gzip, gzip")
    assert_refused(response, 415, key)
    twice = brotli.compress(gzip.compress(event_envelope()))
    response = post_envelope(client, key, twice, HTTP_CONTENT_ENCODING="gzip, br")
    assert response.status_code == 200, response.content
    assert totals(key) == same_everywhere(1)


def test_it_refuses_a_gzip_body_of_many_members(client: Client, key: ProjectKey) -> None:
    # Each member costs a decompressor: a 20 MiB body of empty members took half a minute.
    body = gzip.compress(event_envelope()) + gzip.compress(b"") * 10_000
    response = post_envelope(client, key, body, HTTP_CONTENT_ENCODING="gzip")
    assert_refused(response, 400, key)
    two_members = gzip.compress(event_envelope()[:20]) + gzip.compress(event_envelope()[20:])
    response = post_envelope(client, key, two_members, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content


def sized_envelope(size: int, *, prefix: bytes = b'{}\n{"type":"event"}\n') -> bytes:
    """An envelope of exactly ``size`` bytes whose last item is an event."""
    pad = size - len(prefix) - len(b'{"message":""}')
    return prefix + b'{"message":"' + b"p" * pad + b'"}'


@pytest.mark.parametrize(
    ("limit", "encoding", "compress"),
    [
        ("INGEST_MAX_REQUEST_BYTES", "identity", lambda data: data),
        ("INGEST_MAX_DECOMPRESSED_BYTES", "gzip", gzip.compress),
        ("INGEST_MAX_DECOMPRESSED_BYTES", "br", brotli.compress),
        ("INGEST_MAX_DECOMPRESSED_BYTES", "deflate", zlib.compress),
    ],
)
def test_it_accepts_a_body_at_each_limit_and_refuses_one_byte_more(
    client: Client, key: ProjectKey, settings: Any, limit: str, encoding: str, compress: Any
) -> None:
    setattr(settings, limit, 1000)
    for size, status in ((1000, 200), (1001, 413)):
        body = compress(sized_envelope(size))
        response = post_envelope(client, key, body, HTTP_CONTENT_ENCODING=encoding)
        assert response.status_code == status, (size, response.content)
    assert totals(key) == same_everywhere(1)


def test_it_accepts_an_event_item_at_the_limit_and_refuses_one_byte_more(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    settings.INGEST_MAX_EVENT_BYTES = 1000
    prefix = b'{}\n{"type":"event"}\n'
    for size, status in ((1000, 200), (1001, 413)):
        response = post_envelope(client, key, sized_envelope(len(prefix) + size, prefix=prefix))
        assert response.status_code == status, (size, response.content)
        store_body = sized_envelope(size, prefix=b"")
        response = post(client, f"/api/{key.project_id}/store/", store_body, **auth_headers(key))
        assert response.status_code == status, (size, response.content)
    assert totals(key) == same_everywhere(2)
