"""Logging for every certq process: structlog over stdlib, one event per line.

JSON when stderr is not a terminal (production, CI), readable key=value when
it is. uvicorn, dramatiq and asyncpg log through the same chain.
"""

from __future__ import annotations

import logging
import sys

import structlog

from certq.settings import Settings

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


class SkippedMessagesAsDebug(logging.Filter):
    """dramatiq's "Message ... was skipped." at debug, not warning.

    certq skips messages on purpose (a stale duplicate, a slot given way to
    higher work, a type at its cap) and logs its own debug or info event for
    each; dramatiq's warning for the same moment would be noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote the record; keep it only where debug lines are wanted."""
        if record.msg != "Message %s was skipped.":
            return True

        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def _renderer(settings: Settings) -> structlog.typing.Processor:
    use_console = settings.log_format == "console" or (
        settings.log_format == "auto" and sys.stderr.isatty()
    )
    if use_console:
        return structlog.dev.ConsoleRenderer()

    return structlog.processors.JSONRenderer()


def configure_logging(settings: Settings) -> None:
    """Route structlog and the stdlib loggers through one renderer."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(settings),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(SkippedMessagesAsDebug())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq", "asyncpg"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One canonical line per request comes from certq's own middleware.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
