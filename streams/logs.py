"""Structured logs: one JSON object per line (time, level, logger, message, extra fields)."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


#: where logs also go, as rotated JSON lines (``wismo up`` sets it for itself and its children)
LOG_FILE_ENV = "WISMO_LOG_FILE"
#: ``stderr`` (the default), ``stdout`` or ``none``: the stream logs go to
LOG_STREAM_ENV = "WISMO_LOG_STREAM"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5


class WarningTally(logging.Handler):
    """Counts the records at WARNING and above this process logged (the status line shows it)."""

    count: ClassVar[int] = 0
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with WarningTally._lock:
            WarningTally.count += 1


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: JSON lines to stderr, or where
    :data:`LOG_STREAM_ENV` says, and to the rotated file :data:`LOG_FILE_ENV` names, if any."""
    handlers: dict[str, Any] = {
        "warnings": {"()": f"{__name__}.WarningTally", "level": "WARNING"},
    }
    stream = os.environ.get(LOG_STREAM_ENV, "stderr")
    if stream in ("stderr", "stdout"):
        handlers["stream"] = {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": f"ext://sys.{stream}",
        }
    if path := os.environ.get(LOG_FILE_ENV):
        handlers["file"] = {
            "class": "logging.handlers.RotatingFileHandler",
            "formatter": "json",
            "filename": path,
            "maxBytes": LOG_FILE_BYTES,
            "backupCount": LOG_FILE_BACKUPS,
            "encoding": "utf-8",
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
    }
