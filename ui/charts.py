"""Charts shared by the pages.

Each chart's Vega-Lite spec is built once (Altair's validation is the costly part) with named datasets for the
values that change from run to run, which are filled in per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st


def value_in_distribution(
    edges: Sequence[float], counts: Sequence[int], value: float, low: float, high: float, label: str
) -> dict[str, Any]:
    """A histogram of the training values, the interval as a band, the prediction as a rule (a Vega-Lite spec for
    st.vega_lite_chart)."""
    spec = _distribution_spec(tuple(edges), tuple(counts), label)
    spec["datasets"]["interval"] = [{"low": float(low), "high": float(high)}]
    spec["datasets"]["value"] = [{"value": float(value)}]
    return spec


@st.cache_data(max_entries=8, show_spinner=False)
def _distribution_spec(edges: tuple[float, ...], counts: tuple[int, ...], label: str) -> dict[str, Any]:
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
    band = alt.Chart(alt.Data(name="interval")).mark_rect(opacity=0.25, color="#e45756").encode(x="low:Q", x2="high:Q")
    rule = alt.Chart(alt.Data(name="value")).mark_rule(color="#e45756", size=3).encode(x="value:Q")
    spec = alt.layer(hist, band, rule).properties(height=260).to_dict()
    spec.setdefault("datasets", {})
    return spec
