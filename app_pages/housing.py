"""California housing: one district by hand, or a CSV of districts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from api.snippets import Call
from services import housing
from services.errors import PortalError
from services.inputs import read_csv
from services.registry import LoadedModel, default_registry
from ui.api_snippet import use_via_api
from ui.charts import value_in_distribution
from ui.maps import pick_location
from ui.scaffold import about, caption, load_or_stop, show_error, start, tabs


@st.cache_resource(show_spinner="Loading and timing the model…")
def _load(sha256: str) -> tuple[dict, float]:  # keyed by the artifact's checksum
    return default_registry().sidecar(housing.MODEL_KEY, "stats"), housing.measure_latency()


def _open() -> tuple[LoadedModel, housing.HousingCard, dict, float]:
    model = housing.load()
    return model, housing.card(model), *_load(model.entry["sha256"])


def _plain(value: object) -> object:
    """A widget's value as JSON writes it (numpy and float types to plain Python)."""
    return value if isinstance(value, str) else float(value)


def _defaults(stats: dict) -> None:
    for name, column in stats["columns"].items():
        st.session_state.setdefault(f"housing_{name}", column["median"])
    _place()


def _place() -> None:
    lat, lon, ocean = housing.PLACES[st.session_state.setdefault("housing_place", "Los Angeles")]
    st.session_state.update(housing_latitude=lat, housing_longitude=lon, housing_ocean_proximity=ocean)


demo = start("housing")
model, card, stats, latency = load_or_stop(demo, _open)
caption(model, latency, "HistGradientBoosting + CQR interval")
if "housing_households" not in st.session_state:
    _defaults(stats)

one, batch, about_tab = tabs(demo, ["One district", "Batch (CSV)", "About this model"])
with one:
    pick, where = st.columns([1, 2])
    pick.selectbox("Start from a place", list(housing.PLACES), key="housing_place", on_change=_place)
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
        show_error(err)
    else:
        left, right = st.columns([1, 2])
        left.metric("Predicted median house value", f"${result.price[0]:,.0f}")
        left.write(f"80% interval: **${result.lower[0]:,.0f} – ${result.upper[0]:,.0f}**")
        left.caption(f"{sum(result.timings_ms.values()):.1f} ms on {result.provider}")
        with left:
            use_via_api(
                Call("POST", "/v1/housing/predict", json={"districts": [{k: _plain(v) for k, v in district.items()}]})
            )
        hist = stats["histogram"]
        right.vega_lite_chart(
            spec=value_in_distribution(
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
            show_error(err)
        else:
            table = frame.assign(
                predicted=result.price.round(0), lower_80=result.lower.round(0), upper_80=result.upper.round(0)
            )
            st.success(f"{len(table):,} districts predicted in {sum(result.timings_ms.values()):.0f} ms.")
            if (scored := housing.score(frame, result)) is not None:
                st.write(
                    f"On the {scored.rows:,} rows with a known value: RMSE **${scored.rmse:,.0f}**, "
                    f"interval coverage **{scored.coverage:.1%}**."
                )
            st.dataframe(table, hide_index=True, key="housing_table")
            st.download_button(
                "Download predictions (CSV)",
                table.to_csv(index=False).encode(),
                "housing_predictions.csv",
                "text/csv",
                key="housing_download",
            )

with about_tab:
    if about_tab.open:
        st.write(card.summary)
        anchors = [("This portal (ONNX)", card.rmse), *((a.name, a.test_rmse) for a in card.anchors)]
        st.table(pd.DataFrame([{"model": name, "test RMSE": f"${rmse:,.0f}"} for name, rmse in anchors]))
        st.markdown(
            f"- **Test split:** {card.test_split} ({card.test_rows:,} districts)\n"
            f"- **MAE:** ${card.mae:,.0f} · **R²:** {card.r2:.3f}\n"
            f"- **80% interval:** coverage {card.interval_coverage:.1%} on the test set, "
            f"mean width ${card.interval_mean_width:,.0f}\n"
            f"- **ONNX vs scikit-learn:** max difference ${card.parity_max_abs_diff:.4f} "
            f"over {card.parity_rows:,} test rows\n"
            f"- **Training time:** {card.training_seconds} s on CPU"
        )
        about([model], latency)
