"""The one exception ingest raises for a request it refuses; the view turns it into JSON."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """Refuse the request with ``status`` and ``{"detail": detail}``; nothing is counted.

    ``reason`` names the failure for an ``invalid`` outcome (Relay's discard reasons:
    ``too_large``, ``invalid_json``, ``invalid_envelope``, ``invalid_compression``).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        reason: str = "invalid_envelope",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.reason = reason
        self.headers = headers or {}
        # Envelope items seen before the failure (ingest.envelope.Item), if any.
        self.items: list[Any] = []


def bad_request(detail: str, *, reason: str = "invalid_envelope") -> IngestError:
    return IngestError(400, detail, reason=reason)


def too_large(detail: str) -> IngestError:
    return IngestError(413, detail, reason="too_large")


def unauthorized(detail: str) -> IngestError:
    return IngestError(401, detail)
