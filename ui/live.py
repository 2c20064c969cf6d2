"""The live camera for the vision pages: the browser's camera stream, each frame through the page's effect on the
server (services.live), the result sent back as video; frames per second and per-frame latency under it.

streamlit-webrtc carries the video (WebRTC through aiortc). On this machine and its network it connects directly; a
hosted portal needs a TURN server, read from st.secrets["ice_servers"] or PORTAL_ICE_SERVERS. When no video reaches
the server soon after START, the page says so and points to the snapshot camera instead of waiting forever.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from services.errors import PortalError
from services.live import Effect, LiveProcessor, rtc_configuration
from services.settings import load_settings

CONNECT_TIMEOUT_S = 15.0


def _configuration() -> tuple[dict[str, Any], str | None]:
    """The browser's RTCConfiguration from the app's secrets (ice_servers, ice_transport_policy), else from the
    settings (PORTAL_ICE_SERVERS); a problem with them as a message."""
    try:
        secret, policy = st.secrets.get("ice_servers"), st.secrets.get("ice_transport_policy")
    except (FileNotFoundError, KeyError, ValueError):  # no secrets file: the settings decide
        secret, policy = None, None
    try:
        return rtc_configuration(secret if secret is not None else load_settings().ice_servers, policy), None
    except PortalError as err:
        return {"iceServers": []}, f"The TURN settings are unusable: {err}"


@st.fragment(run_every=1.0)
def _stats(key: str, processor: LiveProcessor) -> None:
    """Refreshed every second while a stream runs: its figures, or why no video arrives."""
    stats = processor.stats()
    waited = time.monotonic() - st.session_state.get(f"{key}_live_since", time.monotonic())
    if stats.processed == 0:
        if waited > CONNECT_TIMEOUT_S:
            st.warning(
                f"No video has reached the server {waited:.0f} s after START. The browser and the server could not "
                "connect: behind a strict firewall, or on a hosted portal without a TURN server, WebRTC video cannot "
                "get through (the README's *Live camera* section says how to set one up). Meanwhile, choose "
                "**Photo from: Camera** to take a snapshot instead.",
                icon=":material/videocam_off:",
            )
        else:
            st.caption(f"Connecting… ({waited:.0f} s)")
        return
    size = f"{stats.size[0]}×{stats.size[1]} px · " if stats.size else ""
    st.caption(
        f"{size}**{stats.fps:.1f} frames/s** processed · {stats.latency_ms:.0f} ms per frame · "
        f"frames processed: {stats.processed} · skipped to keep up: {stats.dropped}"
    )
    if stats.problem:
        st.error(f"Frames pass through unprocessed: {stats.problem}", icon=":material/error:")


def _streamer(key: str, processor: LiveProcessor, configuration: dict[str, Any], size: tuple[int, int]) -> Any:
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    width, height = size
    return webrtc_streamer(
        key=f"{key}_live",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=configuration,
        media_stream_constraints={
            "video": {"width": {"ideal": width}, "height": {"ideal": height}, "frameRate": {"ideal": 30}},
            "audio": False,
        },
        queued_video_frames_callback=processor.on_frames,
        async_processing=True,
        video_html_attrs={"autoPlay": True, "muted": True, "playsInline": True, "style": {"width": "100%"}},
    )


def live_view(key: str, effect: Effect, size: tuple[int, int]) -> None:
    """The live stream for a page (`key` its prefix), each frame through `effect` at about `size` (width, height)."""
    name = f"{key}_live_processor"
    if name not in st.session_state:
        st.session_state[name] = LiveProcessor(effect)
    processor: LiveProcessor = st.session_state[name]
    processor.set_effect(effect)  # the page's controls apply to the running stream
    configuration, problem = _configuration()
    if problem:
        st.error(problem, icon=":material/error:")
    try:
        context = _streamer(key, processor, configuration, size)
    except Exception as err:  # noqa: BLE001 - a live camera that cannot start leaves the page and its photo modes working
        st.warning(
            f"The live camera cannot start here ({type(err).__name__}: {str(err)[:200]}). Choose **Photo from: "
            "Camera** to take a snapshot instead.",
            icon=":material/videocam_off:",
        )
        return
    active = bool(context.state.playing or context.state.signalling)
    since = f"{key}_live_since"
    if active and since not in st.session_state:
        processor.reset()
        st.session_state[since] = time.monotonic()
    elif not active:
        st.session_state.pop(since, None)
    if active:
        _stats(key, processor)
    else:  # no stream: nothing to refresh every second
        st.caption("Press **START** and allow the camera. Frames go to the server, are processed and come back; "
                   "nothing is recorded or kept.")  # fmt: skip
