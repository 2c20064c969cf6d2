"""The portal's entry point: navigation, the demo gallery and the system panel. No model code here.

Demo pages live in app_pages/, not pages/: when a folder named pages/ exists, Streamlit runs a directly-linked
page on its own (its old multipage mode), bypassing this file's st.navigation, sections and page config.
"""

from __future__ import annotations

import streamlit as st

from services.catalog import DEMOS, SECTIONS, Demo, DemoStatus, demo_status_guarded, readme_section

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
    from services.registry import default_registry  # onnxruntime and numpy: after the first paint

    registry = default_registry()
    statuses = []
    for demo in DEMOS:
        statuses.append(demo_status_guarded(demo, registry))
        with slots[demo.slug].container():
            _status(statuses[-1])
    _system_panel(statuses)


def _card(demo: Demo):
    """Few elements per card (the browser draws them all on the first paint): picture, title link (the technical
    summary in its tooltip), the plain-words line, the status slot and a link to how the model was made."""
    with st.container(border=True, key=f"card-{demo.slug}"):
        if demo.thumbnail.is_file():  # a static file the browser fetches itself (no server work per view)
            st.markdown(f"![{demo.title}: what it does]({demo.thumbnail_url})")
        st.page_link(demo.page, label=f"**{demo.title}**", icon=demo.icon, help=demo.summary)
        st.markdown(demo.plain or demo.summary)
        slot = st.empty()
        slot.caption(":material/hourglass_top: Checking the model…")
        st.page_link(
            README_PAGE, label="How it was made", icon=":material/menu_book:", query_params={"demo": demo.slug}
        )
    return slot


def readme() -> None:
    """A demo's README section (?demo=<slug>, one of the registry's slugs; anything else lists the choices)."""
    slug = st.query_params.get("demo", "")
    demo = next((d for d in DEMOS if d.slug == slug), None)
    if demo is None:
        st.title("How the demos were made")
        st.info(f"Pick a demo: {', '.join(d.slug for d in DEMOS)} (unknown demo {slug[:40]!r}).")
        for d in DEMOS:
            st.page_link(README_PAGE, label=d.title, icon=d.icon, query_params={"demo": d.slug})
        return
    st.title(f"How it was made: {demo.title}")
    st.page_link(demo.page, label=f"Open {demo.title}", icon=demo.icon)
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
    from services.registry import default_registry

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


README_PAGE = st.Page(readme, title="How it was made", icon=":material/menu_book:", url_path="readme",
                      visibility="hidden")  # fmt: skip
pages: dict[str, list] = {
    "": [st.Page(gallery, title="Home", icon=":material/apps:", default=True), README_PAGE],
}
for section in SECTIONS:
    demos = [d for d in DEMOS if d.section == section]
    if demos:
        pages[section] = [st.Page(d.page, title=d.title, icon=d.icon, url_path=d.slug) for d in demos]
st.navigation(pages).run()
