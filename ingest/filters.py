"""Inbound filters: decide, from an event's own fields, whether a project drops it.

``FilterSettings`` is the compiled form of a project's ``InboundFilters`` row (kept in the
per-process config cache); ``filter_event`` returns the key of the first filter that matches
(the spec's table order) or None. A field of a shape a filter does not understand never
matches and never raises.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.models import InboundFilters, split_lines

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Known crawlers, bots and uptime checkers, matched in the page visitor's User-Agent.
WEB_CRAWLER_RE = re.compile(
    r"googlebot|adsbot-google|mediapartners-google|feedfetcher-google|storebot-google"
    r"|google-inspectiontool|googleother|bingbot|bingpreview|msnbot|slurp|baiduspider"
    r"|yandex(?:bot|images|metrika)|duckduckbot|sogou|exabot|facebookexternalhit|facebot"
    r"|ia_archiver|applebot|ahrefsbot|semrushbot|mj12bot|dotbot|petalbot|bytespider|gptbot"
    r"|claudebot|ccbot|discordbot|slackbot|twitterbot|linkedinbot|telegrambot|whatsapp"
    r"|pingdom|uptimerobot|statuscake|site24x7|better uptime|gtmetrix|lighthouse"
    r"|\bbots?[/\s);]|\bcrawler\b|\bspider[/\s);]",
    re.IGNORECASE,
)

EXTENSION_URL_RE = re.compile(
    r"^(?:chrome-extension|moz-extension|safari-extension|safari-web-extension"
    r"|ms-browser-extension|edge-extension|opera-extension)://",
    re.IGNORECASE,
)
# Errors that well-known extensions and injected toolbars raise into pages.
EXTENSION_MESSAGE_RE = re.compile(
    "|".join(
        re.escape(text)
        for text in (
            "top.GLOBALS",
            "originalCreateNotification",
            "canvas.contentDocument",
            "MyApp_RemoveAllHighlights",
            "tt.epicplay.com",
            "Can't find variable: ZiteReader",
            "jigsaw is not defined",
            "ComboSearch is not defined",
            "loading.retry.widdit.com",
            "atomicFindClose",
            "fb_xd_fragment",
            "bmi_SafeAddOnload",
            "EBCallBackMessageReceived",
            "conduitPage",
            "__gCrWeb",
            "vid_mate_check is not defined",
            "instantSearchSDKJSBridgeClearHighlight",
        )
    )
)

LOCALHOST_IPS = frozenset({"127.0.0.1", "::1"})
LOCALHOST_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class FilterSettings:
    ip_networks: tuple[IPNetwork, ...] = ()
    releases: re.Pattern[str] | None = None
    error_messages: re.Pattern[str] | None = None
    localhost: bool = False
    browser_extensions: bool = False
    legacy_browsers: bool = False
    web_crawlers: bool = True

    @classmethod
    def from_model(cls, row: InboundFilters | None) -> FilterSettings:
        """Compile a project's row; None (no row) means the defaults."""
        if row is None:
            return cls()
        networks = []
        for entry in split_lines(row.blacklisted_ips):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # the admin refuses these; a row written another way is not fatal
        return cls(
            ip_networks=tuple(networks),
            releases=compile_globs(row.releases),
            error_messages=compile_globs(row.error_messages),
            localhost=row.localhost,
            browser_extensions=row.browser_extensions,
            legacy_browsers=row.legacy_browsers,
            web_crawlers=row.web_crawlers,
        )


def compile_globs(text: str) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any glob (one per line) of ``text``."""
    globs = [line.strip() for line in text.splitlines() if line.strip()]
    if not globs:
        return None
    return re.compile("|".join(fnmatch.translate(glob) for glob in globs), re.IGNORECASE)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(*values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str) and value:
            yield value


def exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The exception objects of an event: ``{"values": [...]}`` or a bare list."""
    raw = event.get("exception")
    if isinstance(raw, dict):
        raw = raw.get("values")
    if not isinstance(raw, list):
        return []
    return [exc for exc in raw if isinstance(exc, dict)]


def event_messages(event: dict[str, Any]) -> list[str]:
    """Every message the error-message filter looks at."""
    messages: list[str] = []
    logentry = _dict(event.get("logentry"))
    messages.extend(_strings(logentry.get("formatted"), logentry.get("message")))
    message = event.get("message")
    if isinstance(message, dict):
        messages.extend(_strings(message.get("formatted"), message.get("message")))
    else:
        messages.extend(_strings(message))
    legacy = _dict(event.get("sentry.interfaces.Message"))
    messages.extend(_strings(legacy.get("formatted"), legacy.get("message")))
    for exc in exceptions(event):
        raw_kind, raw_value = exc.get("type"), exc.get("value")
        kind = raw_kind if isinstance(raw_kind, str) else ""
        value = raw_value if isinstance(raw_value, str) else ""
        if kind and value:
            messages.append(f"{kind}: {value}")
        elif kind or value:
            messages.append(kind or value)
    return messages


def user_agent(event: dict[str, Any]) -> str | None:
    """The User-Agent in the event's ``request.headers`` (a dict or a list of pairs)."""
    headers = _dict(event.get("request")).get("headers")
    pairs: Any
    if isinstance(headers, dict):
        pairs = headers.items()
    elif isinstance(headers, list):
        pairs = [pair for pair in headers if isinstance(pair, list | tuple) and len(pair) == 2]
    else:
        return None
    for name, value in pairs:
        if isinstance(name, str) and name.lower() == "user-agent" and isinstance(value, str):
            return value
    return None


def _version(pattern: str, ua: str) -> int | None:
    """The first ``([0-9]+)`` group of ``pattern`` in ``ua``; None past six digits (no real
    browser version, and int() refuses a few thousand)."""
    match = re.search(pattern, ua)
    if match is None or len(match.group(1)) > 6:
        return None
    return int(match.group(1))


def is_legacy_browser(ua: str) -> bool:
    """Internet Explorer (all), EdgeHTML <= 18, Presto Opera, Opera < 50, Opera Mini < 35,
    Chrome < 60, Firefox < 60, Safari < 11 and the Android stock browser before 4.4."""
    if "MSIE " in ua or "Trident/" in ua:
        return True
    if (version := _version(r"\bEdge/([0-9]+)", ua)) is not None:
        return version <= 18
    if (version := _version(r"Opera Mini/([0-9]+)", ua)) is not None:
        return version < 35
    if ua.startswith("Opera/") or "Presto/" in ua:
        return True
    if (version := _version(r"\bOPR/([0-9]+)", ua)) is not None:
        return version < 50
    if (version := _version(r"\b(?:Chrome|CriOS)/([0-9]+)", ua)) is not None:
        return version < 60
    if (version := _version(r"\b(?:Firefox|FxiOS)/([0-9]+)", ua)) is not None:
        return version < 60
    android = re.search(r"Android ([0-9]{1,3})(?:\.([0-9]{1,3}))?", ua)
    if android and "Version/" in ua:
        return (int(android.group(1)), int(android.group(2) or 0)) < (4, 4)
    if "Safari/" in ua and (version := _version(r"\bVersion/([0-9]+)", ua)) is not None:
        return version < 11
    return False


def _frame_urls(event: dict[str, Any]) -> Iterator[str]:
    stacktraces = [_dict(exc.get("stacktrace")) for exc in exceptions(event)]
    stacktraces.append(_dict(event.get("stacktrace")))
    for stacktrace in stacktraces:
        frames = stacktrace.get("frames")
        if isinstance(frames, list):
            for frame in frames:
                if isinstance(frame, dict):
                    yield from _strings(frame.get("abs_path"), frame.get("filename"))


def is_from_browser_extension(event: dict[str, Any]) -> bool:
    for exc in exceptions(event):
        for text in _strings(exc.get("value"), exc.get("type")):
            if EXTENSION_MESSAGE_RE.search(text):
                return True
    return any(EXTENSION_URL_RE.match(url) for url in _frame_urls(event))


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from a string, IPv4-mapped IPv6 (``::ffff:a.b.c.d``, how a server bound
    to ``[::]`` sees IPv4 peers) as plain IPv4; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def event_ip(event: dict[str, Any], sender_ip: str | None) -> str | None:
    """The user's IP: ``user.ip_address``, where ``{{auto}}`` or absent means the sender."""
    raw = _dict(event.get("user")).get("ip_address")
    if raw is None or raw == "{{auto}}":
        return sender_ip
    return raw if isinstance(raw, str) else None


def is_localhost(event: dict[str, Any]) -> bool:
    raw = _dict(event.get("user")).get("ip_address")
    ip = parse_ip(raw) if raw != "{{auto}}" else None
    if ip is not None and ip.is_loopback and str(ip) in LOCALHOST_IPS:
        return True
    url = _dict(event.get("request")).get("url")
    if isinstance(url, str):
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return False
        return host in LOCALHOST_HOSTS
    return False


def filter_event(
    event: dict[str, Any], settings: FilterSettings, sender_ip: str | None
) -> str | None:
    """The key of the first inbound filter dropping ``event`` (``"ip-address"``,
    ``"release-version"``, ``"error-message"``, ``"localhost"``, ``"browser-extensions"``,
    ``"legacy-browsers"``, ``"web-crawlers"``), or None to keep it."""
    if settings.ip_networks:
        ip = parse_ip(event_ip(event, sender_ip))
        if ip is not None and any(ip in network for network in settings.ip_networks):
            return "ip-address"
    if settings.releases is not None:
        release = event.get("release")
        if isinstance(release, str) and settings.releases.match(release):
            return "release-version"
    if settings.error_messages is not None:
        pattern = settings.error_messages
        if any(pattern.match(message) for message in event_messages(event)):
            return "error-message"
    if settings.localhost and is_localhost(event):
        return "localhost"
    if settings.browser_extensions and is_from_browser_extension(event):
        return "browser-extensions"
    if settings.legacy_browsers or settings.web_crawlers:
        ua = user_agent(event)
        if ua:
            if settings.legacy_browsers and is_legacy_browser(ua):
                return "legacy-browsers"
            if settings.web_crawlers and WEB_CRAWLER_RE.search(ua):
                return "web-crawlers"
    return None
