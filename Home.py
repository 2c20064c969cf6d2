"""The portal's entry point: navigation, the demo gallery and the system panel. No model code here.

Demo pages live in app_pages/, not pages/: when a folder named pages/ exists, Streamlit runs a directly-linked
page on its own (its old multipage mode), bypassing this file's st.navigation, sections and page config.
"""

from __future__ import annotations

import streamlit as st

from services.catalog import DEMOS, SECTIONS, Demo, DemoStatus, demo_status_guarded, readme_section
from services.registry import default_registry

st.set_page_config(page_title="ML demo portal", page_icon=":material/model_training:", layout="wide")

WHAT_IS_THIS = (
    "**What is this?** Seven small programs that learned from examples instead of being told the rules: each "
    "takes something you give it (numbers, a comment, a photo) and answers in a moment. Pick one and try it; "
    "every page also says how its model was trained and how well it does on data it never saw."
)


def gallery() -> None:
    """The cards first, each with its picture and a placeholder for its status; then every model is verified and
    its card filled in, one by one; the system panel last. Nothing slow runs before the cards are on the page."""
    st.title("ML demo portal")
    st.caption("Models trained by our own code, exported to ONNX and served by onnxruntime.")
    st.markdown(WHAT_IS_THIS)
    slots = {}
    for section in SECTIONS:
        in_section = [d for d in DEMOS if d.section == section]
        if not in_section:
            continue
        st.subheader(section)
        for column, demo in zip(st.columns(3), in_section, strict=False):
            with column:
                slots[demo.slug] = _card(demo)
    registry = default_registry()
    statuses = []
    for demo in DEMOS:
        statuses.append(demo_status_guarded(demo, registry))
        with slots[demo.slug].container():
            _status(statuses[-1])
    _system_panel(statuses)


def _card(demo: Demo):  # noqa: ANN202 - returns the status slot (a Streamlit placeholder)
    with st.container(border=True, key=f"card-{demo.slug}"):
        if demo.thumbnail.is_file():
            st.image(str(demo.thumbnail), width="stretch")
        st.page_link(demo.page, label=f"**{demo.title}**", icon=demo.icon)
        st.write(demo.plain or demo.summary)
        slot = st.empty()
        slot.caption("Checking the model…", help="the model file's size and sha256 are verified, then it is loaded")
        left, right = st.columns(2)
        with left.popover("What it does", width="stretch"):
            st.write(demo.summary)
        if right.button("How it was made", key=f"readme-{demo.slug}", width="stretch"):
            _readme(demo)
    return slot


@st.dialog("How it was made", width="large")
def _readme(demo: Demo) -> None:
    st.markdown(f"### {demo.title}")
    st.markdown(readme_section(demo))


def _status(status: DemoStatus) -> None:
    demo = status.demo
    st.caption(f"Model: {status.model or ', '.join(demo.model_keys)}")
    if status.ready:
        st.success(f"Ready · {status.headline or 'no metric recorded'}", icon=":material/check_circle:")
    else:
        st.warning(f"Model missing or broken. Build it with `{demo.rebuild}`", icon=":material/build:")
        st.caption(status.message)


def _system_panel(statuses: list[DemoStatus]) -> None:
    registry = default_registry()
    report = registry.provider_report()
    with st.expander("System", icon=":material/memory:"):
        left, right = st.columns(2)
        left.markdown(
            f"- **onnxruntime:** {report.onnxruntime}\n"
            f"- **Requested providers:** {', '.join(report.requested)}\n"
            f"- **Available in this build:** {', '.join(report.available)}\n"
            f"- **Selected:** {', '.join(report.selected) or 'none (check PORTAL_PROVIDERS)'}\n"
            f"- **GPU:** {', '.join(report.gpus) or 'none found (running on CPU)'}"
        )
        ready = [s for s in statuses if s.ready]
        lines = [
            f"- **Models verified:** {sum(len(s.demo.model_keys) for s in ready)} of "
            f"{sum(len(s.demo.model_keys) for s in statuses)} (size and sha256 checked, session loaded)"
        ]
        for status in ready:
            for key in status.demo.model_keys:
                lines.append(f"- `{key}` active on {', '.join(registry.load(key).providers)}")
        right.markdown("\n".join(lines))


pages: dict[str, list] = {"": [st.Page(gallery, title="Home", icon=":material/apps:", default=True)]}
for section in SECTIONS:
    demos = [d for d in DEMOS if d.section == section]
    if demos:
        pages[section] = [st.Page(d.page, title=d.title, icon=d.icon, url_path=d.slug) for d in demos]
st.navigation(pages).run()
