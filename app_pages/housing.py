"""California housing: one district by hand, or a CSV of districts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services import housing
from services.errors import PortalError
from services.inputs import read_csv
from services.registry import default_registry
from ui.charts import value_in_distribution
from ui.components import artifact_facts, caption
from ui.maps import pick_location

PLACES = {  # name -> (latitude, longitude, ocean proximity)
    "San Francisco": (37.77, -122.42, "NEAR BAY"),
    "Los Angeles": (34.05, -118.24, "<1H OCEAN"),
    "San Diego": (32.72, -117.16, "NEAR OCEAN"),
    "Sacramento": (38.58, -121.49, "INLAND"),
    "Fresno": (36.74, -119.79, "INLAND"),
    "Palo Alto": (37.44, -122.14, "NEAR BAY"),
}


@st.cache_resource(show_spinner="Loading and timing the model…")
def _load(sha256: str) -> tuple[dict, float]:  # keyed by the artifact's checksum
    return default_registry().sidecar(housing.MODEL_KEY, "stats"), housing.measure_latency()


def _defaults(stats: dict) -> None:
    for name, column in stats["columns"].items():
        st.session_state.setdefault(f"housing_{name}", column["median"])
    _place()


def _place() -> None:
    lat, lon, ocean = PLACES[st.session_state.setdefault("housing_place", "Los Angeles")]
    st.session_state.update(housing_latitude=lat, housing_longitude=lon, housing_ocean_proximity=ocean)


st.title("California housing prices")
try:
    model = housing.load()
    stats, latency = _load(model.entry["sha256"])
except PortalError as err:
    st.error(str(err), icon=":material/error:")
    st.stop()
caption(model, latency, "HistGradientBoosting + CQR interval")
if "housing_households" not in st.session_state:
    _defaults(stats)

one, batch = st.tabs(["One district", "Batch (CSV)"])
with one:
    pick, where = st.columns([1, 2])
    pick.selectbox("Start from a place", list(PLACES), key="housing_place", on_change=_place)
    pick.caption(
        "…or click a cell on the map (colour: median price of the training districts there), "
        "then adjust the numbers and press Predict."
    )
    with where:
        clicked = pick_location(
            pd.DataFrame(stats["cells"]),
            st.session_state["housing_latitude"],
            st.session_state["housing_longitude"],
            key="housing_map",
        )
    if clicked is not None:
        st.session_state.update(housing_latitude=clicked[0], housing_longitude=clicked[1])
        st.rerun()
    with st.form("housing_form"):
        c1, c2, c3 = st.columns(3)
        c1.number_input("Latitude", 32.4, 42.1, step=0.01, format="%.2f", key="housing_latitude")
        c1.number_input("Longitude", -124.6, -114.0, step=0.01, format="%.2f", key="housing_longitude")
        c1.selectbox("Ocean proximity", housing.OCEAN_CATEGORIES, key="housing_ocean_proximity")
        c2.number_input(
            "Median income ($10k)",
            0.0,
            100.0,
            step=0.1,
            key="housing_median_income",
            help="Median household income in tens of thousands of dollars: 3.5 means $35,000.",
        )
        c2.number_input("Median house age (years)", 0.0, 150.0, step=1.0, key="housing_housing_median_age")
        c2.number_input("Households", 1.0, 1e6, step=10.0, key="housing_households")
        c3.number_input("Total rooms", 1.0, 1e6, step=10.0, key="housing_total_rooms")
        c3.number_input("Total bedrooms", 0.0, 1e6, step=10.0, key="housing_total_bedrooms")
        c3.number_input("Population", 0.0, 1e6, step=10.0, key="housing_population")
        st.form_submit_button("Predict", type="primary")
    district = {name: st.session_state[f"housing_{name}"] for name in (*housing.NUMERIC_COLUMNS, "ocean_proximity")}
    try:
        result = housing.predict(pd.DataFrame([district]))
    except PortalError as err:
        st.error(str(err), icon=":material/error:")
    else:
        left, right = st.columns([1, 2])
        left.metric("Predicted median house value", f"${result.price[0]:,.0f}")
        left.write(f"80% interval: **${result.lower[0]:,.0f} – ${result.upper[0]:,.0f}**")
        left.caption(f"{sum(result.timings_ms.values()):.1f} ms on {result.provider}")
        hist = stats["histogram"]
        right.altair_chart(
            value_in_distribution(
                hist["edges"], hist["counts"], result.price[0], result.lower[0], result.upper[0], "median house value"
            ),
            width="stretch",
        )
        right.caption(
            "Where the prediction (line) and its interval (band) sit among the training districts. "
            "Census values are capped at $500,001."
        )

with batch:
    st.write(
        "Upload a CSV with the dataset's columns: "
        + ", ".join(f"`{c}`" for c in housing.CSV_SCHEMA.required)
        + f" (and optionally `{housing.TARGET}` to score the predictions). Empty numbers are imputed."
    )
    upload = st.file_uploader("Districts CSV", type=["csv", "txt"], key="housing_csv")
    if upload is not None:
        try:
            frame = read_csv(upload.getvalue(), housing.CSV_SCHEMA)
            with st.spinner("Predicting…"):
                result = housing.predict(frame)
        except PortalError as err:
            st.error(str(err), icon=":material/error:")
        else:
            table = frame.assign(
                predicted=result.price.round(0), lower_80=result.lower.round(0), upper_80=result.upper.round(0)
            )
            st.success(f"{len(table):,} districts predicted in {sum(result.timings_ms.values()):.0f} ms.")
            if housing.TARGET in frame and frame[housing.TARGET].notna().any():
                known = frame[housing.TARGET].notna()
                error = (table.predicted - frame[housing.TARGET])[known]
                inside = frame[housing.TARGET].between(table.lower_80, table.upper_80)[known]
                st.write(
                    f"On the {known.sum():,} rows with a known value: RMSE **${(error**2).mean() ** 0.5:,.0f}**, "
                    f"interval coverage **{inside.mean():.1%}**."
                )
            st.dataframe(table, hide_index=True, key="housing_table")
            st.download_button(
                "Download predictions (CSV)",
                table.to_csv(index=False).encode(),
                "housing_predictions.csv",
                "text/csv",
                key="housing_download",
            )

with st.expander("About this model", icon=":material/info:"):
    metrics = model.entry["metrics"]
    test = metrics["test"]
    st.write(model.entry["card"]["summary"])
    anchors = [{"model": "This portal (ONNX)", "test RMSE": f"${test['rmse']:,.0f}"}] + [
        {"model": a["name"], "test RMSE": f"${a['test_rmse']:,}"} for a in model.entry["card"]["anchors"]
    ]
    st.table(pd.DataFrame(anchors))
    st.markdown(
        f"- **Test split:** {metrics['test_split']} ({test['rows']:,} districts)\n"
        f"- **MAE:** ${test['mae']:,.0f} · **R²:** {test['r2']:.3f}\n"
        f"- **80% interval:** coverage {test['interval_coverage']:.1%} on the test set, "
        f"mean width ${test['interval_mean_width']:,.0f}\n"
        f"- **ONNX vs scikit-learn:** max difference ${metrics['parity']['max_abs_diff_dollars']:.4f} "
        f"over {metrics['parity']['rows']:,} test rows\n"
        f"- **Training time:** {metrics['training_seconds']} s on CPU"
    )
    artifact_facts(model, latency)
