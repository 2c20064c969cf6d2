"""`python -m benchmarks portal`: what a visit to each portal page costs the Streamlit server, and its memory.

What is measured, and how:
- Two real servers are started side by side: `streamlit run Home.py` (the portal, PORTAL_PROVIDERS=cpu) and
  `streamlit run benchmarks/trivial_page.py` (a title, some text and two widgets): the trivial page's cost is the
  floor that Streamlit itself sets (session set-up, static files, one script run).
- Debian's Chromium, driven by Playwright, visits each page (Home at /, each demo at /<slug>) in a NEW browser
  context, i.e. a new Streamlit session, and waits until the page has finished running: the app is connected, its
  script is not running, no status widget is shown, the main area holds elements and every image has loaded, twice
  in a row. The context is then closed.
- The cost of a visit is the server's CPU time (utime + stime from /proc/<pid>/stat of the server process and its
  children, in seconds) read once the server is quiet before the visit and again once it is quiet after it.
- Each page gets one untimed warm-up visit (models load, caches fill), then `repeats` visits (at most MAX_REPEATS),
  pages taken round robin so that any drift of the machine hits all of them alike. The table shows each page's
  median CPU per warm view, the floor (the trivial page's median) and the amount above the floor (goal: <= 0.15 s).
- Cold start: a fresh portal server per run (healthy, then quiet), a first visitor opens Home; the seconds from
  opening the page until every demo's card shows its title, until every card's picture has loaded, and until the
  page has finished running (every model verified). Median of COLD_RUNS runs (goal for the cards: <= 1.5 s).
- Memory: the portal server's resident set (VmRSS of the server and its children) once every page has been visited,
  and its peak, sampled every 50 ms, while `concurrent` sessions open pages at the same moment (goal: <= 600 MB).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import Row, print_table
from services.catalog import DEMOS
from services.settings import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MAX_REPEATS = 7
COLD_RUNS = 3
GOAL_COLD_START_S = 1.5
GOAL_ABOVE_FLOOR_S = 0.15
GOAL_RSS_MB = 600
FLOOR = "floor: trivial Streamlit page"
HEALTH_TIMEOUT_S = 120
WARMUP_TIMEOUT_S = 180  # the first visit to a page loads its models
VISIT_TIMEOUT_S = 60
QUIET_TIMEOUT_S = 3.0
RSS_SAMPLE_S = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# True once a page has finished running: connected, script idle, no status widget, content shown, images loaded.
PAGE_DONE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testConnectionState !== 'CONNECTED' || app.dataset.testScriptState !== 'notRunning') {
    return false;
  }
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !main.querySelector('[data-testid="stElementContainer"]')) return false;
  return Array.from(document.images).every((image) => image.complete);
}"""


# Home's gallery as the visitor sees it: [every card's title shown, every card's picture loaded] (cards are the
# containers keyed "card-<slug>" in Home.py).
GALLERY_JS = """(titles) => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return [false, false];
  const text = main.innerText;
  const shown = titles.every((title) => text.includes(title));
  const cards = Array.from(main.querySelectorAll('[class*="st-key-card-"]'));
  const pictures = cards.length >= titles.length && cards.every((card) => {
    const image = card.querySelector('img');
    return image !== null && image.complete && image.naturalWidth > 0;
  });
  return [shown, pictures];
}"""


@dataclass(frozen=True)
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log: Path


@dataclass(frozen=True)
class Target:
    """A page to visit: its row label, the server that serves it and its path."""

    label: str
    server: Server
    path: str

    @property
    def url(self) -> str:
        return f"{self.server.url}{self.path}"


@dataclass
class Views:
    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ---- /proc: CPU time and resident memory of a process tree -------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on; the command name may hold spaces, so split after its ')'."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    """pid and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid and its live children, plus what its reaped children used (cutime + cstime)."""
    ticks = 0
    for index, member in enumerate(_descendants(pid)):
        with contextlib.suppress(OSError):
            fields = _stat_fields(member)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
            if index == 0:
                ticks += int(fields[13]) + int(fields[14])  # cutime, cstime of the server itself
    return ticks / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """VmRSS of pid and its live children."""
    total = 0
    for member in _descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _wait_quiet(pid: int) -> float:
    """The server's CPU seconds once two reads 100 ms apart agree (bounded by QUIET_TIMEOUT_S)."""
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_seconds(pid)
        if now == last:
            return now
        last = now
    return last


# ---- servers -----------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(name: str, script: str, log_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """`streamlit run <script>` on a free port, healthy within HEALTH_TIMEOUT_S; always terminated afterwards."""
    port = free_port()
    log = log_dir / f"{name}.log"
    command = [
        sys.executable,
        *("-m", "streamlit", "run", script),
        *("--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"),
        *("--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"),
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the {server.name} server exited:\n{server.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the {server.name} server was not healthy within {HEALTH_TIMEOUT_S} s")


# ---- the browser -------------------------------------------------------------------------------------------------


def find_chromium() -> str:
    """Debian's chromium, or a clear message (Playwright's own browser download does not work on these machines)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit(
            "python -m benchmarks portal needs Debian's chromium: apt-get install -y chromium "
            "(never `playwright install`)"
        )
    return chromium


def _wait_done(page: Page, timeout_s: float) -> str | None:
    """Wait until the page has finished running (twice, 250 ms apart); a problem's description, or None."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout_s
    try:
        for settle_ms in (250, 0):
            remaining_ms = max(1.0, (deadline - time.monotonic()) * 1000)
            page.wait_for_function(PAGE_DONE_JS, timeout=remaining_ms, polling=100)
            page.wait_for_timeout(settle_ms)
    except PlaywrightError as err:
        return f"not finished within {timeout_s:.0f} s ({str(err).splitlines()[0]})"
    if page.locator('[data-testid="stException"]').count():
        return "shows an exception: " + page.locator('[data-testid="stException"]').first.inner_text()[:200]
    return None


def visit(browser: Browser, target: Target, timeout_s: float, views: Views) -> None:
    """One visit in a new session: the server's CPU seconds and the wall time it took, added to views."""
    pid = target.server.process.pid
    before = _wait_quiet(pid)
    start = time.monotonic()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(target.url, wait_until="commit", timeout=timeout_s * 1000)
        problem = _wait_done(page, timeout_s)
    finally:
        context.close()
    wall = time.monotonic() - start
    views.cpu_s.append(_wait_quiet(pid) - before)
    views.wall_s.append(wall)
    if problem:
        views.problems.append(problem)


def measure_views(browser: Browser, targets: list[Target], repeats: int) -> dict[str, Views]:
    """One warm-up visit per page, then `repeats` rounds visiting every page once (round robin)."""
    warmups = {t.label: Views() for t in targets}
    for target in targets:
        visit(browser, target, WARMUP_TIMEOUT_S, warmups[target.label])
        print(f"  warm-up {target.label}: {warmups[target.label].wall_s[0]:.1f} s", flush=True)
    views = {t.label: Views(problems=list(warmups[t.label].problems)) for t in targets}
    for round_number in range(repeats):
        for target in targets:
            visit(browser, target, VISIT_TIMEOUT_S, views[target.label])
        print(f"  round {round_number + 1} of {repeats} done", flush=True)
    return views


def _sample_peak(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_bytes(pid))
        stop.wait(RSS_SAMPLE_S)


def peak_rss_concurrent(browser: Browser, targets: list[Target], sessions: int) -> tuple[int, list[str]]:
    """Peak RSS of the targets' server while `sessions` new sessions open pages at once (each a different page)."""
    pid = targets[0].server.process.pid
    stop, peak = threading.Event(), [rss_bytes(pid)]
    sampler = threading.Thread(target=_sample_peak, args=(pid, stop, peak), daemon=True)
    contexts, problems = [], []
    sampler.start()
    try:
        pages = []
        for index in range(sessions):
            contexts.append(browser.new_context(viewport={"width": 1400, "height": 1000}))
            pages.append((targets[index % len(targets)], contexts[-1].new_page()))
        for target, page in pages:
            page.goto(target.url, wait_until="commit", timeout=VISIT_TIMEOUT_S * 1000)
        for target, page in pages:
            problem = _wait_done(page, VISIT_TIMEOUT_S)
            if problem:
                problems.append(f"{target.label}: {problem}")
        time.sleep(0.5)  # a last few samples after the pages finished
    finally:
        for context in contexts:
            context.close()
        stop.set()
        sampler.join()
    return peak[0], problems


@dataclass
class ColdStart:
    """Seconds from opening Home on a fresh server until the cards show, their pictures load, the page finishes."""

    cards_s: float | None = None
    pictures_s: float | None = None
    done_s: float | None = None


def first_visit(browser: Browser, url: str, timeout_s: float = WARMUP_TIMEOUT_S) -> ColdStart:
    """A first visitor opens `url` (Home): when the gallery's cards, their pictures and the finished page appear."""
    titles = [demo.title for demo in DEMOS]
    seen = ColdStart()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        start = time.monotonic()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        while time.monotonic() - start < timeout_s:
            elapsed = time.monotonic() - start
            shown, pictures = page.evaluate(GALLERY_JS, titles)
            if shown and seen.cards_s is None:
                seen.cards_s = elapsed
            if pictures and seen.pictures_s is None:
                seen.pictures_s = elapsed
            if seen.done_s is None and page.evaluate(PAGE_DONE_JS):
                seen.done_s = elapsed
            if seen.cards_s is not None and seen.done_s is not None and (pictures or elapsed > seen.done_s + 2):
                break
            page.wait_for_timeout(25)
    finally:
        context.close()
    return seen


def cold_starts(browser: Browser, env: dict[str, str], runs: int) -> list[ColdStart]:
    """`runs` fresh portal servers, each visited once on Home as soon as it is healthy and quiet."""
    results = []
    for number in range(runs):
        with (
            tempfile.TemporaryDirectory(prefix="portal-cold-") as logs,
            serve("portal", "Home.py", Path(logs), env) as fresh,
        ):
            _wait_quiet(fresh.process.pid)
            results.append(first_visit(browser, f"{fresh.url}/"))
        print(f"  cold start {number + 1} of {runs}: {results[-1]}", flush=True)
    return results


def _cold_rows(results: list[ColdStart]) -> list[Row]:
    def median(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else statistics.median(values)  # type: ignore[type-var]

    def shown(value: float | None) -> str:
        return "never (within the time allowed)" if value is None else f"{value:.2f} s"

    cards = median([r.cards_s for r in results])
    goal = f"<= {GOAL_COLD_START_S} s"
    return [
        Row("cold start: every card shown", shown(cards), goal, cards is not None and cards <= GOAL_COLD_START_S),
        Row("cold start: every card's picture loaded", shown(median([r.pictures_s for r in results]))),
        Row("cold start: page finished (models verified)", shown(median([r.done_s for r in results]))),
    ]


# ---- the report --------------------------------------------------------------------------------------------------


def _machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}"


def _view_rows(views: dict[str, Views]) -> list[Row]:
    floor = statistics.median(views[FLOOR].cpu_s)
    rows = [Row(FLOOR, f"{floor:.3f} s CPU             wall {statistics.median(views[FLOOR].wall_s):4.1f} s")]
    for label, seen in views.items():
        if label == FLOOR:
            continue
        median = statistics.median(seen.cpu_s)
        above = median - floor
        value = f"{median:.3f} s CPU ({above:+.3f} s)  wall {statistics.median(seen.wall_s):4.1f} s"
        met = round(above, 3) <= GOAL_ABOVE_FLOOR_S  # CPU time comes in clock ticks (10 ms): no float noise
        rows.append(Row(label, value, f"<= {GOAL_ABOVE_FLOOR_S} s above the floor", met))
    return rows


def _memory_rows(after_all: int, peak: int, floor_rss: int, sessions: int) -> list[Row]:
    goal, mb = f"<= {GOAL_RSS_MB} MB", 2**20
    return [
        Row("server RSS after every page was visited", f"{after_all / mb:.0f} MB", goal, after_all <= GOAL_RSS_MB * mb),
        Row(
            f"peak server RSS, {sessions} sessions opening pages at once",
            f"{peak / mb:.0f} MB",
            goal,
            peak <= GOAL_RSS_MB * mb,
        ),
        Row("floor: trivial page server RSS", f"{floor_rss / mb:.0f} MB"),
    ]


def _print_report(
    views: dict[str, Views], repeats: int, memory: list[Row], problems: list[str], cold: list[Row]
) -> None:
    print_table(f"First visitor on a fresh server, Home: median of {COLD_RUNS} fresh servers", cold)
    print_table(
        f"Server CPU seconds per warm page view: median of {repeats} view(s) per page, each a new session "
        "(in brackets: above the floor)",
        _view_rows(views),
    )
    print_table("Server memory (VmRSS of the server process and its children)", memory)
    problems = [f"{label}: {p}" for label, seen in views.items() for p in dict.fromkeys(seen.problems)] + problems
    if problems:
        print("\nProblems seen (the page's figures still count):")
        for problem in problems:
            print(f"- {problem}")


# ---- run ---------------------------------------------------------------------------------------------------------


def _targets(portal: Server, trivial: Server) -> list[Target]:
    pages = [Target("Home (/)", portal, "/")]
    pages += [Target(f"{demo.slug} (/{demo.slug})", portal, f"/{demo.slug}") for demo in DEMOS]
    return [*pages, Target(FLOOR, trivial, "/")]


def run(data_dir: Path, repeats: int, *, concurrent: int = 8) -> None:
    """Measure every page's server CPU per view against the trivial page's floor, then the portal's memory."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    repeats = max(1, min(repeats, MAX_REPEATS))
    print(f"machine: {_machine()}")
    print(
        "times are server CPU seconds (utime + stime of the Streamlit server and its children, from /proc), "
        f"not wall time; {repeats} view(s) per page after one warm-up (repeats clamped to at most {MAX_REPEATS})"
    )
    env = {**os.environ, "PORTAL_PROVIDERS": "cpu", "PORTAL_DATA_DIR": str(data_dir)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            cold = _cold_rows(cold_starts(browser, env, COLD_RUNS))
        finally:
            browser.close()
    with (
        tempfile.TemporaryDirectory(prefix="portal-bench-") as logs,
        serve("portal", "Home.py", Path(logs), env) as portal,
        serve("trivial", "benchmarks/trivial_page.py", Path(logs), env) as trivial,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            targets = _targets(portal, trivial)
            views = measure_views(browser, targets, repeats)
            after_all = rss_bytes(portal.process.pid)
            portal_targets = [t for t in targets if t.server is portal]
            peak, problems = peak_rss_concurrent(browser, portal_targets, concurrent)
            memory = _memory_rows(after_all, peak, rss_bytes(trivial.process.pid), concurrent)
        finally:
            browser.close()
    _print_report(views, repeats, memory, problems, cold)
