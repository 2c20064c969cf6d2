"""The portal's entry point: navigation, the demo gallery and the system panel. No model code here.

Demo pages live in app_pages/, not pages/: when a folder named pages/ exists, Streamlit runs a directly-linked
page on its own (its old multipage mode), bypassing this file's st.navigation, sections and page config.
"""

from __future__ import annotations

import streamlit as st

from services.catalog import DEMOS, SECTIONS, DemoStatus, demo_status
from services.registry import default_registry

st.set_page_config(page_title="ML demo portal", page_icon=":material/model_training:", layout="wide")


def gallery() -> None:
    registry = default_registry()
    st.title("ML demo portal")
    st.caption("Models trained by our own code, exported to ONNX and served by onnxruntime.")
    statuses = [demo_status(demo, registry) for demo in DEMOS]
    for section in SECTIONS:
        in_section = [s for s in statuses if s.demo.section == section]
        if not in_section:
            continue
        st.subheader(section)
        for column, status in zip(st.columns(3), in_section, strict=False):
            with column:
                _card(status)
    _system_panel(statuses)


def _card(status: DemoStatus) -> None:
    demo = status.demo
    with st.container(border=True):
        st.markdown(f"#### {demo.title}")
        st.write(demo.summary)
        st.caption(f"Model: {status.model or ', '.join(demo.model_keys)}")
        if status.ready:
            st.success(f"Ready · {status.headline or 'no metric recorded'}", icon=":material/check_circle:")
            st.page_link(demo.page, label=f"Open {demo.title}", icon=demo.icon)
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
