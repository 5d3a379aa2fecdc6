"""Retry delays: exponential, capped, jittered, and safe for any attempt count."""

from __future__ import annotations

import random

# 2**62 ms is far past any cap; clamping the exponent keeps the arithmetic
# small however many retries a task is allowed.
_MAX_EXPONENT = 62


def retry_delay_ms(
    attempt: int,
    *,
    base_ms: int,
    max_ms: int,
    jitter_ratio: float,
    rng: random.Random | None = None,
) -> int:
    """Delay before the attempt after `attempt` (1-based): base * 2^(attempt-1).

    Jitter spreads the delay by up to +/- `jitter_ratio`; the result never
    exceeds `max_ms` and never falls below half the un-jittered delay.
    """
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    delay = min(base_ms * (1 << exponent), max_ms)
    spread = (rng or random).uniform(-jitter_ratio, jitter_ratio)
    jittered = int(delay * (1 + spread))

    return max(1, min(max_ms, max(jittered, delay // 2)))
