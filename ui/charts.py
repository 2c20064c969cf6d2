"""Charts shared by the pages."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd


def value_in_distribution(
    edges: Sequence[float], counts: Sequence[int], value: float, low: float, high: float, label: str
) -> alt.LayerChart:
    """A histogram of the training values, the interval as a band, the prediction as a rule."""
    bars = pd.DataFrame({"start": edges[:-1], "end": edges[1:], "districts": counts})
    hist = (
        alt.Chart(bars)
        .mark_rect(color="#9bb7d4", stroke="white")
        .encode(
            x=alt.X("start:Q", title=label, axis=alt.Axis(format="$,.0f")),
            x2="end:Q",
            y=alt.Y("districts:Q", title="training districts"),
            y2=alt.datum(0),
        )
    )
    band = (
        alt.Chart(pd.DataFrame({"low": [low], "high": [high]}))
        .mark_rect(opacity=0.25, color="#e45756")
        .encode(x="low:Q", x2="high:Q")
    )
    rule = alt.Chart(pd.DataFrame({"value": [value]})).mark_rule(color="#e45756", size=3).encode(x="value:Q")
    return alt.layer(hist, band, rule).properties(height=260)
