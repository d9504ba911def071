"""The API's JSON renderer: DRF's, plus bodies that a view has already written as JSON text.

A view that formats many numbers (the stats series) writes its body once as text
(``usage.serializers``) and returns ``Response(JSONText(...))``; rendering then encodes that
text instead of walking a list of lists. Everything else renders exactly as DRF renders it
(compact separators, DRF's encoder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers

__all__ = ["JSONRenderer", "JSONText", "render_json"]


class JSONText(str):
    """A complete JSON document, already formatted, to be sent as it is."""

    __slots__ = ()


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer; a ``JSONText`` body goes out as its UTF-8 bytes."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, JSONText):
            return data.encode()
        return super().render(data, accepted_media_type, renderer_context)


def render_json(data: Any) -> str:
    """``data`` as JSON text, exactly as the renderer writes a response body: for a view that
    assembles a ``JSONText`` from pieces, some written by hand."""
    return JSONRenderer().render(data).decode()
