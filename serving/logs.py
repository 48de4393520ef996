"""Structured logs: one JSON object (or one text line) per record (the access line of each request comes from
:class:`serving.request_observer.RequestObserver`).

Nothing personal reaches a log line: access lines name the route template (never the URL or its query
string), the status, the duration and the client id, never addresses, user agents or keys; every message
also passes a redactor for keys, e-mail addresses and IP addresses, and exceptions are logged as their type
and stack frames, never their message (which may quote request data).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

ACCESS_LOGGER = "xmo.access"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "client_id")
QUIET_PATHS = frozenset({"/t.gif", "/r", "/healthz", "/readyz", "/metrics"})  # logged only when they fail

_H6 = "[0-9A-Fa-f]{1,4}"  # one group of an IPv6 address (full, or compressed with ::)
_IPV6_FULL = f"{_H6}(?::{_H6}){{7}}"
_IPV6_SHORT = f"(?:{_H6}(?::{_H6}){{0,6}})?::{_H6}(?::{_H6}){{0,6}}"
_REDACTIONS = (
    (re.compile(r"xmo_(?:api|site|admin)_[A-Za-z0-9_-]+"), "[key]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), "[ip]"),
    (re.compile(rf"(?<![\w:])(?:{_IPV6_FULL}|{_IPV6_SHORT}|{_H6}(?::{_H6}){{0,6}}::)(?![\w:])"), "[ip]"),
)
_MARK = "_xmo_handler"


def redact(text: str) -> str:
    """``text`` with API keys, e-mail addresses and IP addresses replaced by placeholders."""
    for pattern, placeholder in _REDACTIONS:
        text = pattern.sub(placeholder, text)
    return text


def _stack(record: logging.LogRecord) -> dict[str, Any] | None:
    if not record.exc_info or record.exc_info[0] is None:
        return None
    kind, _, tb = record.exc_info
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
    return {"type": kind.__name__, "frames": frames}


class JsonFormatter(logging.Formatter):
    """time, level, logger, message and the access fields a record carries, as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        error = _stack(record)
        if error is not None:
            entry["error"] = error
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same fields for humans: ``time level logger message key=value …``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [when, record.levelname, record.name, redact(record.getMessage())]
        parts += [f"{n}={getattr(record, n)}" for n in ACCESS_FIELDS if getattr(record, n, None) is not None]
        error = _stack(record)
        if error is not None:
            parts.append(f"error={error['type']} at {error['frames'][-1] if error['frames'] else '?'}")
        return " ".join(str(p) for p in parts)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(log_format: str = "json", level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send log records to ``stream`` (default: stderr) in ``log_format``; replaces an earlier call's handler.

    xmo's loggers log from ``level``; other libraries keep their own levels (Python's default: WARNING).

    Called by the app's lifespan, so each worker process configures itself; uvicorn's own access log (which
    would carry addresses and query strings) is switched off in favour of
    :class:`serving.request_observer.RequestObserver`.
    """
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    # an earlier call's handler, and plain stream handlers (the CLI's basicConfig) that would print each line twice
    for old in [h for h in root.handlers if getattr(h, _MARK, False) or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(handler)
    logging.getLogger("xmo").setLevel(level)  # other libraries keep their levels (WARNING by default)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own text handlers give way to this one
        uvicorn_logger = logging.getLogger(name)
        for old in list(uvicorn_logger.handlers):
            uvicorn_logger.removeHandler(old)
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return handler
