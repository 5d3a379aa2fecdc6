"""Retry delays: exponential growth, the cap, jitter bounds, any attempt count.

Cases retry-backoff (retries fired back to back elsewhere) and
backoff-overflow (elsewhere the next-retry time overflowed after ~16 retries).
"""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from certq.backoff import retry_delay_ms
from certq.clock import ms_to_rfc3339, now_ms
from certq.settings import Settings

SEEDS = range(200)


def _delays(attempt: int, base_ms: int, max_ms: int, jitter_ratio: float) -> set[int]:
    return {
        retry_delay_ms(
            attempt,
            base_ms=base_ms,
            max_ms=max_ms,
            jitter_ratio=jitter_ratio,
            rng=random.Random(seed),
        )
        for seed in SEEDS
    }


def test_delay_doubles_with_each_attempt_without_jitter() -> None:
    """base * 2^(attempt-1): 1, 2, 4, 8, 16 seconds for a 1 s base."""

    delays = [
        retry_delay_ms(attempt, base_ms=1_000, max_ms=300_000, jitter_ratio=0.0)
        for attempt in range(1, 6)
    ]

    assert delays == [1_000, 2_000, 4_000, 8_000, 16_000]


def test_delay_stops_growing_at_the_cap() -> None:
    """Once base * 2^(attempt-1) passes the cap, every delay is the cap."""

    delays = [
        retry_delay_ms(attempt, base_ms=1_000, max_ms=8_000, jitter_ratio=0.0)
        for attempt in range(1, 10)
    ]

    assert delays == [1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000, 8_000, 8_000]


def test_jitter_stays_within_the_ratio_of_the_delay() -> None:
    """With a 20% ratio a 4 s delay lands in [3.2 s, 4.8 s], and does vary."""

    delays = _delays(3, base_ms=1_000, max_ms=300_000, jitter_ratio=0.2)

    assert min(delays) >= 3_200
    assert max(delays) <= 4_800
    assert len(delays) > 50, "jitter should spread the delays"


def test_jitter_never_exceeds_the_cap() -> None:
    """At the cap jitter may only shorten the delay, never lengthen it."""

    delays = _delays(20, base_ms=1_000, max_ms=8_000, jitter_ratio=0.5)

    assert max(delays) <= 8_000
    assert min(delays) >= 4_000


def test_full_jitter_never_falls_below_half_the_delay() -> None:
    """Even a jitter ratio of 1 keeps at least half the un-jittered delay."""

    delays = _delays(4, base_ms=1_000, max_ms=300_000, jitter_ratio=1.0)

    assert min(delays) >= 4_000
    assert max(delays) <= 16_000


def test_delay_is_never_below_one_millisecond() -> None:
    """A 1 ms base with full jitter still waits at least 1 ms."""

    delays = _delays(1, base_ms=1, max_ms=50, jitter_ratio=1.0)

    assert min(delays) >= 1


@pytest.mark.parametrize("attempt", [0, -1, -(10**9)])
def test_attempt_numbers_below_one_get_the_base_delay(attempt: int) -> None:
    """A nonsensical attempt number neither raises nor shrinks below the base."""

    delay = retry_delay_ms(attempt, base_ms=1_000, max_ms=8_000, jitter_ratio=0.0)

    assert delay == 1_000


@pytest.mark.parametrize("attempt", [16, 17, 63, 64, 1_000, 10**9, 10**18, 2**200])
def test_huge_attempt_numbers_give_the_cap_without_overflow(attempt: int) -> None:
    """However many retries a task is allowed, the delay is the cap.

    Regression for the kind of fault in case backoff-overflow: the next-retry
    time overflowed after about 16 retries and the job disappeared.
    """

    delays = _delays(attempt, base_ms=1, max_ms=50, jitter_ratio=0.2)

    assert max(delays) <= 50
    assert min(delays) >= 40


def test_case_configuration_every_delay_of_many_retries_is_capped() -> None:
    """Base 1 ms, cap 50 ms, 1000 retries: every delay within 1..50 ms."""

    delays = [
        retry_delay_ms(attempt, base_ms=1, max_ms=50, jitter_ratio=0.2)
        for attempt in range(1, 1_001)
    ]

    assert all(1 <= delay <= 50 for delay in delays)
    assert delays[-1] >= 40


def test_case_configuration_retry_gaps_are_about_one_two_four_seconds() -> None:
    """Base 1 s, cap 8 s: gaps near 1, 2, 4 s, jittered, never near 0."""

    gaps = [_delays(attempt, 1_000, 8_000, 0.2) for attempt in (1, 2, 3)]

    for expected, delays in zip((1_000, 2_000, 4_000), gaps, strict=True):
        assert min(delays) >= expected * 0.8
        assert max(delays) <= expected * 1.2


def test_same_random_source_gives_the_same_delays() -> None:
    """The delay depends only on its inputs and the random source."""

    first = retry_delay_ms(
        5, base_ms=100, max_ms=10_000, jitter_ratio=0.3, rng=random.Random(7)
    )
    second = retry_delay_ms(
        5, base_ms=100, max_ms=10_000, jitter_ratio=0.3, rng=random.Random(7)
    )

    assert first == second


@pytest.mark.parametrize("cap_ms", [10**15, 10**18], ids=["1e15", "1e18"])
def test_no_accepted_backoff_cap_puts_the_next_attempt_out_of_the_date_range(
    cap_ms: int,
) -> None:
    """A cap the settings accept gives a next-attempt time that can be shown.

    Regression: CERTQ_RETRY_BACKOFF_MAX_MS has no upper bound, so a large cap
    put the next-attempt time past year 9999, where `next_attempt_at` can no
    longer be rendered: the fault of case backoff-overflow, reached through
    configuration.
    """
    try:
        settings = Settings(retry_backoff_max_ms=cap_ms)
    except ValidationError:
        return

    delay = retry_delay_ms(
        10**6,
        base_ms=settings.retry_backoff_base_ms,
        max_ms=settings.retry_backoff_max_ms,
        jitter_ratio=settings.retry_jitter_ratio,
    )

    assert ms_to_rfc3339(now_ms() + delay) is not None
