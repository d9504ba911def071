"""Logging helpers."""

from __future__ import annotations

import logging


class BriefFormatter(logging.Formatter):
    """One line per record: the message without the exception's traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = None
        record.exc_text = None
        return super().format(record)
