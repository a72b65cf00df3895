"""One logging set-up for every `citechat` command: citechat's own loggers (citechat.*, rag.*, ingest.*) to stderr."""

from __future__ import annotations

import logging
import sys

# The packages whose records citechat shows at the chosen level; libraries stay at WARNING.
OWN_LOGGERS = ("citechat", "rag", "ingest")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stderr, so a replaced stream (a test's capture) is followed, not cached."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _is_shown(record: logging.LogRecord) -> bool:
    """Pass citechat's records (their loggers' levels decide) and other libraries' warnings and errors."""
    own = record.name.split(".", 1)[0] in OWN_LOGGERS
    return own or record.levelno >= logging.WARNING


def level_of_flag(verbosity: int) -> str | None:
    """Return the level -v (INFO) or -vv (DEBUG) asks for, or None without the flag."""
    if verbosity >= 2:
        return "DEBUG"
    return "INFO" if verbosity == 1 else None


def choose_level(verbosity: int, configured: str | None, default: str) -> str:
    """Return the level name: the -v flag's, else CITECHAT_LOG_LEVEL, else the command's default."""
    return level_of_flag(verbosity) or configured or default


def configure_logging(level: str) -> None:
    """Send records of citechat's loggers at `level` and above, and any logger's warnings, to stderr.

    The handler sits on the root logger and replaces only the one this function installed before,
    so calling it again changes the level without doubling lines, and other handlers (uvicorn's,
    pytest's) keep working.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.addFilter(_is_shown)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = True
