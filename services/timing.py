"""Wall-clock helpers the services share: stage timings and the latency figure each page shows."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def elapsed_ms(start: float) -> float:
    """Milliseconds since a time.perf_counter() reading."""
    return (time.perf_counter() - start) * 1000


def median_call_ms(call: Callable[[], object], *, repeats: int, warmup: int = 1) -> float:
    """Median milliseconds of call() over `repeats` runs, after `warmup` untimed runs."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(elapsed_ms(start))
    return statistics.median(samples)
