"""Live video through the vision services: an effect per demo (a function from one RGB frame to another) and a
processor that runs it on a camera's frames as they come.

The processor always works on the newest frame: when frames arrive faster than the effect runs, the older ones are
dropped (and counted), so the picture never falls behind the camera. Nothing of the stream is kept: the processor
holds counters and timings, never a frame. The Streamlit side (ui/live.py) hands it streamlit-webrtc's queued frames;
benchmarks/live.py measures it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services import detection, segmentation, style
from services.errors import InvalidInputError, PortalError

Effect = Callable[[np.ndarray], np.ndarray]
WINDOW = 30  # frames behind the shown rate and latency
REMOVED_BACKGROUND = np.array([128, 128, 128], np.float32)  # video has no transparency: "remove" shows grey
DETECTION_SIZE = (640, 480)  # what the pages ask the camera for (width, height)
SEGMENTATION_SIZE = (640, 480)
STYLE_SIZE = (320, 240)
STYLE_SIDE = max(STYLE_SIZE)


def _json_setting(value: Any) -> Any:
    """PORTAL_ICE_SERVERS's text parsed (empty: no servers); anything else (st.secrets' tables) as it is."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return []
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        example = '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'
        raise InvalidInputError(f"PORTAL_ICE_SERVERS is not JSON ({err.msg}); write a list like {example}.") from None


def ice_servers(value: Any) -> list[dict[str, Any]]:
    """STUN/TURN servers for WebRTC from a setting: JSON text (PORTAL_ICE_SERVERS) or a list of tables (st.secrets'
    ice_servers). Each needs "urls" (a string or a list of stun:/turn:/turns: URLs); TURN ones take "username" and
    "credential". Raises InvalidInputError saying what is wrong."""
    value = _json_setting(value)
    if not isinstance(value, list | tuple):
        raise InvalidInputError("ice_servers must be a list of servers, each with urls (and username/credential).")
    servers = []
    for server in value:
        server = dict(server) if hasattr(server, "keys") else None
        urls = None if server is None else server.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not urls or not all(isinstance(u, str) and u.split(":")[0] in ("stun", "turn", "turns") for u in urls):
            raise InvalidInputError("each ICE server needs urls starting with stun:, turn: or turns:.")
        servers.append(
            {k: v for k, v in {**server, "urls": list(urls)}.items() if k in ("urls", "username", "credential")}
        )
    return servers


POLICIES = ("all", "relay")


def rtc_configuration(value: Any, policy: Any = None) -> dict[str, Any]:
    """The browser's RTCConfiguration from a setting: a list of ICE servers (as ice_servers takes), or a whole
    configuration {"iceServers": [...], "iceTransportPolicy": "relay"} (JSON text or a mapping). `policy` (say
    st.secrets' ice_transport_policy) overrides the configuration's: "relay" sends video only through TURN, never
    directly (it hides addresses; without a TURN server nothing connects). Raises InvalidInputError."""
    value = _json_setting(value)
    if hasattr(value, "keys"):
        value = dict(value)
        policy = policy if policy is not None else value.get("iceTransportPolicy")
        value = value.get("iceServers", [])
    config: dict[str, Any] = {"iceServers": ice_servers(value)}
    if policy is not None:
        if policy not in POLICIES:
            raise InvalidInputError(f"iceTransportPolicy must be one of {', '.join(POLICIES)}, not {policy!r}.")
        config["iceTransportPolicy"] = policy
    return config


@dataclass(frozen=True)
class LiveStats:
    received: int  # frames the camera sent
    processed: int  # frames the effect ran on
    dropped: int  # frames skipped because a newer one had arrived
    fps: float  # processed frames per second over the last WINDOW frames
    latency_ms: float  # median time of the effect over the last WINDOW frames
    problem: str | None  # the last error the effect raised (frames then pass through unchanged)
    size: tuple[int, int] | None  # width, height of the last frame


class LiveProcessor:
    """Runs an effect on the newest of the frames handed to it; the effect can be swapped while frames flow (a page's
    controls apply live). Thread-safe: frames come from streamlit-webrtc's worker thread, stats are read by the page."""

    def __init__(self, effect: Effect) -> None:
        self._lock = threading.Lock()
        self._effect = effect
        self._received = self._processed = self._dropped = 0
        self._done: deque[float] = deque(maxlen=WINDOW)
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self._problem: str | None = None
        self._size: tuple[int, int] | None = None

    def set_effect(self, effect: Effect) -> None:
        with self._lock:
            self._effect = effect

    def reset(self) -> None:
        """Forget the counters (a new stream starts)."""
        with self._lock:
            self._received = self._processed = self._dropped = 0
            self._done.clear()
            self._latency.clear()
            self._problem, self._size = None, None

    def process_newest(self, newest: np.ndarray, skipped: int = 0) -> np.ndarray:
        """The effect on the newest frame (RGB uint8), `skipped` older ones having been dropped for it. An error from
        the effect (a PortalError, say a model that broke, or anything else) is recorded and the frame passes through
        unchanged: the stream goes on and the page shows why."""
        with self._lock:
            effect = self._effect
            self._received += 1 + skipped
            self._dropped += skipped
        start = time.perf_counter()
        problem = None
        try:
            out = effect(newest)
        except PortalError as err:
            out, problem = newest, str(err)
        except Exception as err:  # noqa: BLE001 - anything else would end the stream; it is shown instead
            out, problem = newest, f"unexpected {type(err).__name__}: {str(err)[:200]}"
        end = time.perf_counter()
        with self._lock:
            self._processed += 1
            self._done.append(end)
            self._latency.append((end - start) * 1000)
            self._problem = problem
            self._size = (int(newest.shape[1]), int(newest.shape[0]))
        return out

    async def on_frames(self, frames: list[Any]) -> list[Any]:
        """streamlit-webrtc's queued-frames callback: av.VideoFrames in, the newest one processed out."""
        import av

        out = self.process_newest(frames[-1].to_ndarray(format="rgb24"), skipped=len(frames) - 1)
        made = av.VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")
        made.pts = frames[-1].pts
        if frames[-1].time_base is not None:
            made.time_base = frames[-1].time_base
        return [made]

    def stats(self) -> LiveStats:
        with self._lock:
            done, latency = list(self._done), list(self._latency)
            fps = (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else 0.0
            return LiveStats(self._received, self._processed, self._dropped, fps,
                             float(np.median(latency)) if latency else 0.0, self._problem, self._size)  # fmt: skip


def detection_effect(
    model: str = detection.OWN, *, confidence: float = 0.3, iou: float = 0.45, classes: Sequence[str] | None = None
) -> Effect:
    """Boxes drawn on the frame; `classes` (None: all) keeps only those."""
    detection.check_thresholds(confidence, iou)
    shown = None if classes is None else tuple(classes)

    def effect(frame: np.ndarray) -> np.ndarray:
        found = detection.detect(frame, model, confidence=confidence, iou=iou)
        return detection.annotate(frame, found if shown is None else found.only(shown))

    return effect


def segmentation_effect(effect: str = "blur", **options: Any) -> Effect:
    """One of segmentation.EFFECTS on the frame (options as apply_effect takes them); 'remove' shows a grey
    background, as video has no transparency."""
    if effect not in segmentation.EFFECTS:
        raise InvalidInputError(f"unknown effect {effect!r}; choose one of {', '.join(segmentation.EFFECTS)}.")

    def run(frame: np.ndarray) -> np.ndarray:
        out = segmentation.apply_effect(frame, segmentation.segment(frame), effect, **options)
        if out.shape[2] == 4:
            alpha = out[..., 3:].astype(np.float32) / 255.0
            out = np.round(out[..., :3] * alpha + REMOVED_BACKGROUND * (1 - alpha)).astype(np.uint8)
        return out

    return run


def style_effect(
    name: str, *, strength: float = 1.0, keep_original_colours: bool = False, mix_with: str | None = None,
    mix: float = 0.0, max_side: int = STYLE_SIDE,
) -> Effect:  # fmt: skip
    """The frame restyled, at most max_side pixels on its longer side (a live stream's size)."""
    style.style_weights(name, mix_with, mix)  # unknown styles fail here, not on every frame

    def run(frame: np.ndarray) -> np.ndarray:
        side = min(max_side, max(frame.shape[:2]))
        return style.stylize(frame, name, mix_with=mix_with, mix=mix, strength=strength,
                             keep_original_colours=keep_original_colours, max_side=side).image  # fmt: skip

    return run
