"""DummyTSDB: stores nothing, reads zeros. For tests that do not care about counts."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from .base import BaseTSDB, WritePlan

__all__ = ["DummyTSDB"]

logger = logging.getLogger(__name__)


class DummyTSDB(BaseTSDB):
    """Writes are dropped; reads are zero-filled series of the right shape. Warns at
    construction unless running under pytest (``PYTEST_VERSION`` is set), since a server
    configured with it silently counts nothing."""

    def __init__(self, rollups: Sequence[tuple[int, int]] | None = None, **kwargs: Any) -> None:
        super().__init__(rollups, **kwargs)
        if "PYTEST_VERSION" not in os.environ:
            logger.warning("DummyTSDB is configured: every count is discarded and reads are 0")

    def _write(self, plan: WritePlan) -> None:
        pass

    def _read(
        self, model: int, rollup: int, buckets: list[int], fields: list[str]
    ) -> list[list[int]]:
        return [[0] * len(buckets) for _ in fields]

    def validate(self) -> None:
        """Always healthy."""

    def flush(self) -> None:
        """Nothing to delete."""
