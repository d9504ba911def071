"""Inbound filters: each drops what it should (200, received + blacklisted + its own counter)
and nothing else; shapes a filter does not understand never match and never fail."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from ingest_helpers import (
    event_envelope,
    filter_count,
    outcome_totals,
    post_envelope,
    post_store,
    same_everywhere,
    totals,
)

from ingest.models import InboundFilters
from organizations.models import ProjectKey

FILTER_KEYS = [
    "ip-address",
    "release-version",
    "error-message",
    "browser-extensions",
    "legacy-browsers",
    "localhost",
    "web-crawlers",
]
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def set_filters(key: ProjectKey, **fields: Any) -> None:
    InboundFilters.objects.update_or_create(project=key.project, defaults=fields)


def with_ua(ua: str, headers_as_list: bool = False) -> dict[str, Any]:
    headers: Any = [["User-Agent", ua]] if headers_as_list else {"user-agent": ua}
    return {"message": "boom", "request": {"url": "https://app.example.com/", "headers": headers}}


def send(client: Client, key: ProjectKey, event: dict[str, Any], **extra: Any) -> None:
    response = post_envelope(client, key, event_envelope(event), **extra)
    assert response.status_code == 200, response.content


def assert_filtered_by(key: ProjectKey, filter_key: str, *, dropped: int, kept: int) -> None:
    assert totals(key) == same_everywhere(dropped + kept, 0, dropped)
    for other in FILTER_KEYS:
        assert filter_count(key, other) == (dropped if other == filter_key else 0), other
    expected = {}
    if dropped:
        expected[("error", "filtered", filter_key)] = dropped
    if kept:
        expected[("error", "accepted", None)] = kept
    assert outcome_totals(key) == expected


def test_web_crawlers_are_filtered_by_default(client: Client, key: ProjectKey) -> None:
    send(
        client,
        key,
        with_ua("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    )
    send(client, key, with_ua("Mozilla/5.0 (compatible; bingbot/2.0)", headers_as_list=True))
    send(client, key, with_ua(CHROME_UA))
    # The SDK's own HTTP User-Agent is not the page visitor's.
    send(client, key, {"message": "no request"}, HTTP_USER_AGENT="Googlebot/2.1")
    assert_filtered_by(key, "web-crawlers", dropped=2, kept=2)


def test_web_crawler_filter_can_be_turned_off(client: Client, key: ProjectKey) -> None:
    set_filters(key, web_crawlers=False)
    send(client, key, with_ua("Googlebot/2.1 (+http://www.google.com/bot.html)"))
    assert_filtered_by(key, "web-crawlers", dropped=0, kept=1)


def test_ip_address_filter(client: Client, key: ProjectKey) -> None:
    set_filters(key, blacklisted_ips="10.0.0.0/8\n192.0.2.7\n2001:db8::/32")
    send(client, key, {"user": {"ip_address": "10.1.2.3"}})
    send(client, key, {"user": {"ip_address": "2001:db8::1"}})
    send(client, key, {"user": {"ip_address": "{{auto}}"}}, REMOTE_ADDR="192.0.2.7")
    send(client, key, {"message": "no user"}, REMOTE_ADDR="192.0.2.7")
    send(client, key, {"user": {"ip_address": "11.0.0.1"}}, REMOTE_ADDR="192.0.2.7")
    send(client, key, {"user": {"ip_address": "not an ip"}})
    send(client, key, {"user": ["10.1.2.3"]}, REMOTE_ADDR="198.51.100.1")
    assert_filtered_by(key, "ip-address", dropped=4, kept=3)


def test_ip_address_filter_believes_forwarded_for_only_from_trusted_proxies(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    set_filters(key, blacklisted_ips="203.0.113.9")
    settings.INGEST_TRUSTED_PROXIES = ["10.0.0.0/8"]
    send(client, key, {}, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.3")
    send(client, key, {}, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert_filtered_by(key, "ip-address", dropped=1, kept=1)


def test_release_filter(client: Client, key: ProjectKey) -> None:
    set_filters(key, releases="1.*\n*-BETA")
    for release in ("1.0.3", "2.0-beta", "2.0.0", None, 12, {"x": 1}):
        send(client, key, {"message": "m", "release": release})
    assert_filtered_by(key, "release-version", dropped=2, kept=4)


def test_error_message_filter(client: Client, key: ProjectKey) -> None:
    set_filters(key, error_messages="*connection reset*\nValueError: bad *")
    dropped_events = [
        {"message": "Upstream: Connection RESET by peer"},
        {"message": {"formatted": "connection reset during read"}},
        {"logentry": {"formatted": "a connection reset happened"}},
        {"logentry": {"message": "connection reset %s", "params": ["x"]}},
        {"sentry.interfaces.Message": {"message": "connection reset"}},
        {"exception": {"values": [{"type": "ValueError", "value": "bad input"}]}},
        {"exception": [{"type": "ValueError", "value": "bad thing"}]},
    ]
    kept_events = [
        {"message": "all fine"},
        {"exception": {"values": [{"type": "ValueError", "value": "good input"}]}},
        {"exception": "ValueError: bad shape"},
        {"message": ["connection reset"]},
    ]
    for event in dropped_events + kept_events:
        send(client, key, event)
    assert_filtered_by(key, "error-message", dropped=len(dropped_events), kept=len(kept_events))


def test_localhost_filter(client: Client, key: ProjectKey) -> None:
    set_filters(key, localhost=True)
    send(client, key, {"user": {"ip_address": "127.0.0.1"}})
    send(client, key, {"user": {"ip_address": "::1"}})
    send(client, key, {"request": {"url": "http://localhost:3000/page"}})
    send(client, key, {"request": {"url": "http://127.0.0.1/page"}})
    # The sender's own address does not make an event "about localhost".
    send(client, key, {"user": {"ip_address": "{{auto}}"}}, REMOTE_ADDR="127.0.0.1")
    send(client, key, {"request": {"url": "https://example.com/localhost"}})
    send(client, key, {"request": {"url": 42}})
    assert_filtered_by(key, "localhost", dropped=4, kept=3)


def test_browser_extension_filter(client: Client, key: ProjectKey) -> None:
    set_filters(key, browser_extensions=True)
    frames = [{"abs_path": "chrome-extension://abcdef/content.js", "function": "f"}]
    send(
        client,
        key,
        {"exception": {"values": [{"type": "Error", "stacktrace": {"frames": frames}}]}},
    )
    frames = [{"filename": "moz-extension://1234/inject.js"}]
    send(client, key, {"exception": [{"type": "Error", "stacktrace": {"frames": frames}}]})
    send(
        client,
        key,
        {"exception": {"values": [{"type": "TypeError", "value": "top.GLOBALS is undefined"}]}},
    )
    frames = [{"abs_path": "https://app.example.com/static/app.js"}]
    send(
        client,
        key,
        {"exception": {"values": [{"type": "Error", "stacktrace": {"frames": frames}}]}},
    )
    send(client, key, {"exception": {"values": [{"type": "Error", "stacktrace": {"frames": "x"}}]}})
    assert_filtered_by(key, "browser-extensions", dropped=3, kept=2)


@pytest.mark.parametrize(
    ("ua", "legacy"),
    [
        ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)", True),
        ("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", True),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/70.0.3538.102 Safari/537.36 Edge/18.18362",
            True,
        ),
        ("Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16", True),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/603.3.8 "
            "(KHTML, like Gecko) Version/10.1.2 Safari/603.3.8",
            True,
        ),
        ("Mozilla/5.0 (Windows NT 6.1; rv:45.0) Gecko/20100101 Firefox/45.0", True),
        (
            "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us) AppleWebKit/534.30 "
            "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
            True,
        ),
        (CHROME_UA, False),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", False),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            False,
        ),
    ],
)
def test_legacy_browser_filter(client: Client, key: ProjectKey, ua: str, legacy: bool) -> None:
    set_filters(key, legacy_browsers=True)
    send(client, key, with_ua(ua))
    assert_filtered_by(key, "legacy-browsers", dropped=int(legacy), kept=int(not legacy))


def test_filters_that_are_off_drop_nothing(client: Client, key: ProjectKey) -> None:
    set_filters(key, web_crawlers=False)
    send(client, key, {"user": {"ip_address": "127.0.0.1"}, "release": "1.0"})
    send(client, key, {"exception": [{"value": "top.GLOBALS"}]})
    send(client, key, with_ua("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"))
    assert totals(key) == same_everywhere(3)
    assert outcome_totals(key) == {("error", "accepted", None): 3}


def test_filtered_store_events_count_as_blacklisted(client: Client, key: ProjectKey) -> None:
    response = post_store(client, key, with_ua("Googlebot/2.1"))
    assert response.status_code == 200, response.content
    assert_filtered_by(key, "web-crawlers", dropped=1, kept=0)


def test_odd_shapes_never_fail(client: Client, key: ProjectKey) -> None:
    set_filters(
        key,
        blacklisted_ips="10.0.0.0/8",
        releases="*",
        error_messages="*x*",
        localhost=True,
        browser_extensions=True,
        legacy_browsers=True,
    )
    for event in (
        {"user": "x", "request": "y", "exception": 5, "release": None},
        {"request": {"headers": "User-Agent: x"}, "logentry": [], "message": None},
        {"request": {"headers": [["User-Agent"], 3, None]}, "user": {"ip_address": 4}},
        {"exception": {"values": [None, 1, {"stacktrace": None}]}},
    ):
        send(client, key, event)
    assert totals(key) == same_everywhere(4)


def test_a_user_agent_with_a_huge_version_is_not_legacy(client: Client, key: ProjectKey) -> None:
    set_filters(key, legacy_browsers=True)
    for ua in ("Mozilla/5.0 Chrome/" + "9" * 5000, "Mozilla/5.0 Firefox/\u0665\u0665"):
        send(client, key, with_ua(ua))
    assert_filtered_by(key, "legacy-browsers", dropped=0, kept=2)


def test_an_ipv4_sender_seen_as_ipv4_mapped_ipv6_is_the_same_address(
    client: Client, key: ProjectKey, settings: Any
) -> None:
    # gunicorn bound to [::] reports IPv4 peers as ::ffff:a.b.c.d.
    set_filters(key, blacklisted_ips="192.0.2.7\n203.0.113.9")
    settings.INGEST_TRUSTED_PROXIES = ["10.0.0.0/8"]
    send(client, key, {}, REMOTE_ADDR="::ffff:192.0.2.7")
    send(client, key, {}, REMOTE_ADDR="::ffff:10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    send(client, key, {"user": {"ip_address": "::ffff:192.0.2.7"}})
    send(client, key, {}, REMOTE_ADDR="::ffff:198.51.100.1")
    assert_filtered_by(key, "ip-address", dropped=3, kept=1)
