"""The logging set-up every process shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from certq.logs import SkippedMessagesAsDebug


def _skipped() -> logging.LogRecord:
    return logging.LogRecord(
        "dramatiq.worker.WorkerThread",
        logging.WARNING,
        __file__,
        1,
        "Message %s was skipped.",
        ("run_low(...)",),
        None,
    )


@pytest.fixture
def root_level() -> Iterator[logging.Logger]:
    """The root logger, its level restored afterwards."""
    root = logging.getLogger()
    level = root.level
    yield root
    root.setLevel(level)


def test_dramatiq_skip_warning_is_dropped_at_info(root_level: logging.Logger) -> None:
    """Regression: every deliberate skip logged a dramatiq warning."""
    root_level.setLevel(logging.INFO)

    kept = SkippedMessagesAsDebug().filter(_skipped())

    assert not kept


def test_dramatiq_skip_warning_is_a_debug_line_at_debug(
    root_level: logging.Logger,
) -> None:
    """With debug logging on, the line stays, at debug."""
    root_level.setLevel(logging.DEBUG)
    record = _skipped()

    kept = SkippedMessagesAsDebug().filter(record)

    assert kept
    assert record.levelname == "DEBUG"


def test_other_records_pass_unchanged(root_level: logging.Logger) -> None:
    """Only that one dramatiq message is touched."""
    root_level.setLevel(logging.INFO)
    record = logging.LogRecord("dramatiq", logging.WARNING, __file__, 1, "x", (), None)

    kept = SkippedMessagesAsDebug().filter(record)

    assert kept
    assert record.levelname == "WARNING"
