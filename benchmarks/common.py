"""Timing and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from services.timing import median_call_ms


def median_ms(fn: Callable[[], object], *, repeats: int, warmup: int = 3) -> float:
    """Median wall time of fn() in milliseconds, after a few untimed warm-up calls (the services' own timer)."""
    return median_call_ms(fn, repeats=repeats, warmup=warmup)


def interleaved(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Medians of two callables timed in alternating rounds (both see the same machine state)."""
    a, b = [], []
    for _ in range(repeats):
        a.append(median_ms(first, repeats=1, warmup=1))
        b.append(median_ms(second, repeats=1, warmup=1))
    return statistics.median(a), statistics.median(b)


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    goal: str = ""
    met: bool | None = None


def print_table(title: str, rows: list[Row]) -> None:
    """A plain table: measure, value, goal, and whether the goal is met."""
    width = max(len(r.measure) for r in rows)
    value_width = max(len(r.value) for r in rows)
    print(f"\n{title}\n" + "-" * len(title))
    for row in rows:
        mark = "" if row.met is None else ("  ok" if row.met else "  MISSED")
        goal = f"  (goal: {row.goal})" if row.goal else ""
        print(f"{row.measure:<{width}}  {row.value:>{value_width}}{goal}{mark}")
