"""`python -m benchmarks live`: the live camera's figures, next to their goals.

- Frames per second through the frame callback (services.live.LiveProcessor.on_frames: the av frame decoded to RGB,
  the page's effect, a new av frame), one frame after another on a photo at the camera size the page asks for:
  detection and segmentation blur at 640x480, style at 320x240.
- Memory and threads over 20 start/stop cycles of a real WebRTC session on loopback: an aiortc peer sends the photo
  as 30 fps video to streamlit-webrtc's server-side worker running the segmentation effect, takes the processed
  video back, and both are closed; the process's resident memory and thread count after each cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import Row, print_table
from services import live
from services.samples import load_sample
from services.settings import ROOT
from services.style import STYLES

GOAL_FPS = {"detection": 20.0, "segmentation blur": 15.0, "style": 8.0}
CYCLES = 20
# Resident memory, median of cycles 6-10 against median of the last five: the first cycles fill caches, and one
# cycle's figure swings by tens of MB with the allocator; a leak of 5 MB a session would show as 50 MB here.
GOAL_MEMORY_GROWTH_MB = 50.0
CYCLE_FRAMES = 10  # processed frames per cycle before it is stopped


def camera_photo(size: tuple[int, int]) -> np.ndarray:
    """The bundled astronaut photo cropped to the camera's aspect ratio and scaled to `size` (width, height)."""
    from PIL import Image

    photo = Image.fromarray(load_sample("astronaut"))
    width, height = size
    side = min(photo.width, photo.height * width // height)
    top = photo.height - side * height // width
    box = ((photo.width - side) // 2, top // 2, (photo.width + side) // 2, top // 2 + side * height // width)
    return np.asarray(photo.crop(box).resize(size, Image.BILINEAR))


def write_y4m(path: Path, photo: np.ndarray, frames: int = 60, fps: int = 30) -> Path:
    """`photo` (RGB, even sides) as a Y4M video (4:2:0) of `frames` frames: what Chromium's fake camera plays with
    --use-file-for-fake-video-capture, so a browser test films a real scene rather than a test pattern."""
    height, width = photo.shape[:2]
    rgb = photo.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    half = (slice(None, None, 2), slice(None, None, 2))
    planes = [y, ((b - y) * 0.564 + 128)[half], ((r - y) * 0.713 + 128)[half]]
    frame = b"FRAME\n" + b"".join(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in planes)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        out.write(frame * frames)
    return path


def callback_fps(effect: live.Effect, photo: np.ndarray, seconds: float) -> tuple[float, float]:
    """Frames per second and median ms per frame through the processor's frame callback, for about `seconds`."""
    import av

    processor = live.LiveProcessor(effect)
    frame = av.VideoFrame.from_ndarray(photo, format="rgb24")
    loop = asyncio.new_event_loop()
    try:
        for _ in range(3):  # warm-up: sessions, caches
            loop.run_until_complete(processor.on_frames([frame]))
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < 5:
            began = time.perf_counter()
            loop.run_until_complete(processor.on_frames([frame]))
            times.append(time.perf_counter() - began)
        return len(times) / sum(times), statistics.median(times) * 1000
    finally:
        loop.close()


@dataclass
class Loopback:
    """An event loop in a thread, with the media relay streamlit-webrtc's workers need, as Streamlit's server has."""

    loop: asyncio.AbstractEventLoop
    relay: object

    def run(self, coroutine, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextlib.contextmanager
def loopback() -> Iterator[Loopback]:
    from aiortc.contrib.media import MediaRelay

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-loopback", daemon=True)
    thread.start()

    async def relay() -> MediaRelay:
        return MediaRelay()

    try:
        yield Loopback(loop, asyncio.run_coroutine_threadsafe(relay(), loop).result())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _photo_track(photo: np.ndarray):
    import av
    from aiortc import VideoStreamTrack

    class PhotoTrack(VideoStreamTrack):
        """A camera that films a photo: 30 frames a second."""

        async def recv(self):
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(photo, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    return PhotoTrack()


def stream_once(where: Loopback, processor: live.LiveProcessor, photo: np.ndarray, frames: int,
                timeout: float = 30.0) -> int:  # fmt: skip
    """One WebRTC session on loopback: a peer sends `photo` as video to streamlit-webrtc's worker, which runs
    `processor`; stops both once `frames` have been processed (and come back). Returns the frames the peer got."""
    from aiortc import RTCPeerConnection
    from streamlit_webrtc import WebRtcMode
    from streamlit_webrtc.webrtc import WebRtcWorker

    back = {"frames": 0}
    readers: list[asyncio.Task] = []

    async def offer() -> RTCPeerConnection:
        peer = RTCPeerConnection()
        peer.addTrack(_photo_track(photo))

        @peer.on("track")
        def on_track(track) -> None:
            async def consume() -> None:
                with contextlib.suppress(Exception):  # the track ends when the session stops
                    while True:
                        await track.recv()
                        back["frames"] += 1

            readers.append(asyncio.ensure_future(consume()))

        await peer.setLocalDescription(await peer.createOffer())
        return peer

    peer = where.run(offer())
    worker = WebRtcWorker(
        mode=WebRtcMode.SENDRECV, rtc_configuration=None, source_video_track=None, source_audio_track=None,
        sink_video_track=None, sink_audio_track=None, player_factory=None, in_recorder_factory=None,
        out_recorder_factory=None, video_frame_callback=None, audio_frame_callback=None,
        queued_video_frames_callback=processor.on_frames, queued_audio_frames_callback=None, on_video_ended=None,
        on_audio_ended=None, video_processor_factory=None, audio_processor_factory=None, async_processing=True,
        video_receiver_size=4, audio_receiver_size=4, sendback_video=True, sendback_audio=False, loop=where.loop,
        relay=where.relay,
    )  # fmt: skip
    try:
        answer = worker.process_offer(peer.localDescription.sdp, peer.localDescription.type, timeout=timeout)
        where.run(peer.setRemoteDescription(answer))
        deadline = time.monotonic() + timeout
        while (processor.stats().processed < frames or back["frames"] < frames) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(timeout=5)
        where.run(peer.close())
    return back["frames"]


def cycles(count: int = CYCLES, frames: int = CYCLE_FRAMES) -> list[tuple[float, int, int]]:
    """(resident MB, threads, frames back) after each of `count` start/stop cycles of a loopback session."""
    import psutil

    # streamlit-webrtc's worker looks for a Streamlit session (it stops with it); outside one, Streamlit warns each time
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    process = psutil.Process()
    photo = camera_photo(live.SEGMENTATION_SIZE)
    processor = live.LiveProcessor(live.segmentation_effect("blur", blur_radius=12))
    found = []
    with loopback() as where:
        for _ in range(count):
            processor.reset()
            before = threading.active_count()
            got = stream_once(where, processor, photo, frames)
            settle = time.monotonic() + 3.0  # the worker's threads end shortly after stop(), not at once
            while threading.active_count() > before and time.monotonic() < settle:
                time.sleep(0.05)
            gc.collect()
            found.append((process.memory_info().rss / 2**20, threading.active_count(), got))
    return found


def cycles_isolated(count: int = CYCLES, frames: int = CYCLE_FRAMES) -> list[tuple[float, int, int]]:
    """cycles() in a fresh Python process: its memory is the sessions' alone, and aiortc's SRTP library is loaded
    before anything else (in a process that has loaded Ray or TensorFlow first, their bundled TLS libraries can crash
    its import)."""
    command = [sys.executable, "-m", "benchmarks.live", str(count), str(frames)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 + 10 * count, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the WebRTC sessions failed ({done.returncode}): {done.stderr[-2000:]}")
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def memory_growth(found: list[tuple[float, int, int]]) -> tuple[float, float]:
    """Median resident MB of cycles 6-10 and of the last five cycles."""
    return statistics.median(m for m, _, _ in found[5:10]), statistics.median(m for m, _, _ in found[-5:])


def run(data_dir: Path, repeats: int, *, seconds: float = 5.0, count: int = CYCLES) -> None:
    del data_dir, repeats  # bundled photo; the duration sets the sample size
    rows = []
    effects = {
        "detection": (live.detection_effect(), live.DETECTION_SIZE),
        "segmentation blur": (live.segmentation_effect("blur", blur_radius=12), live.SEGMENTATION_SIZE),
        "style": (live.style_effect(STYLES[0]), live.STYLE_SIZE),
    }
    for name, (effect, size) in effects.items():
        fps, ms = callback_fps(effect, camera_photo(size), seconds)
        rows.append(Row(f"{name}, {size[0]}x{size[1]}: through the frame callback", f"{fps:5.1f} fps ({ms:.1f} ms)",
                        f">= {GOAL_FPS[name]:.0f} fps", fps >= GOAL_FPS[name]))  # fmt: skip
    found = cycles_isolated(count)
    early, late = memory_growth(found)
    rows.append(Row(f"memory over {count} start/stop cycles (median of cycles 6-10 -> last 5)",
                    f"{early:.0f} -> {late:.0f} MB ({late - early:+.1f} MB)",
                    f"<= +{GOAL_MEMORY_GROWTH_MB:.0f} MB", late - early <= GOAL_MEMORY_GROWTH_MB))  # fmt: skip
    threads = [t for _, t, _ in found]
    rows.append(Row(f"threads over {count} start/stop cycles", f"{min(threads)}-{max(threads)} after each cycle",
                    "no growth", max(threads[5:]) <= threads[5]))  # fmt: skip
    rows.append(Row("processed frames back at the sender, per cycle", f"min {min(f for *_, f in found)}",
                    f">= {CYCLE_FRAMES}", min(f for *_, f in found) >= CYCLE_FRAMES))  # fmt: skip
    print_table("Live camera: frame callback speed on this CPU, and WebRTC sessions started and stopped", rows)


if __name__ == "__main__":  # cycles_isolated's child: python -m benchmarks.live COUNT FRAMES
    print(json.dumps(cycles(int(sys.argv[1]), int(sys.argv[2]))))
