"""The bookkeeping every resumable training run shares, whatever its framework.

A run's folder holds the framework's checkpoint (written and read by the caller's `save` / `load`) and record.json:
steps done, seconds spent, the loss curve, why it stopped, and the configuration. A checkpoint made under another
configuration is never resumed. The loop saves every `checkpoint_every` steps, leaves after `stop_after` steps in all
(as a stopped session would) or after `session_seconds` of this call, and stops for good once the time budget is
spent. The record also keeps each call's share of the time (`runs_seconds`) and the devices the calls ran on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class RunConfig(Protocol):
    steps: int
    checkpoint_every: int
    time_budget_s: float

    def to_dict(self) -> dict: ...


def set_options(config: RunConfig | Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as JSON values without the options left unset (None): a run made before an option existed
    is still a run of the configuration that leaves it unset."""
    values = config if isinstance(config, Mapping) else config.to_dict()
    return {k: v for k, v in json.loads(json.dumps(dict(values))).items() if v is not None}


def saved_record(config: RunConfig, folder: Path | None) -> dict[str, Any] | None:
    """The record.json in folder when it was made under this configuration, else None."""
    path = Path(folder) / "record.json" if folder is not None else None
    if path is None or not path.exists():
        return None
    saved = json.loads(path.read_text())
    same = isinstance(saved.get("config"), Mapping) and set_options(saved["config"]) == set_options(config)
    return saved if same else None


def run_steps(
    config: RunConfig,
    folder: Path | None,
    step: Callable[[int], Mapping[str, float]],
    *,
    save: Callable[[Path], None],
    load: Callable[[Path], None],
    stop_after: int | None = None,
    session_seconds: float | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Resume from folder when it holds a run of this configuration, then call step(i) until done; returns the record.

    step(i) trains step i and returns the figures to average into the curve (its losses, and the learning rate
    under "lr", which is logged but not averaged). save(folder) / load(folder) write / restore the framework state.
    stop_after (a step count) and session_seconds (this call's running time) end this call early with a checkpoint;
    a rerun goes on from there (the configuration's time_budget_s, in contrast, ends the run for good). device: a
    description of where this call runs, added to the record's "devices".
    """
    record: dict[str, Any] = {"steps": 0, "seconds": 0.0, "curve": [], "stopped": "steps", "config": config.to_dict()}
    record_path = Path(folder) / "record.json" if folder is not None else None
    saved = saved_record(config, folder)
    if saved is None and record_path is not None and record_path.exists():
        log.warning("checkpoint in %s was made with another configuration: starting afresh", folder)
    if saved is not None:
        load(Path(folder))
        record = saved
        log.info("resumed at step %d (%.0f s so far)", record["steps"], record["seconds"])

    def checkpoint() -> None:
        if record_path is None:
            return
        record_path.parent.mkdir(parents=True, exist_ok=True)
        save(record_path.parent)
        record_path.write_text(json.dumps(record))

    before = record["seconds"]
    if device is not None and device not in record.setdefault("devices", []):
        record["devices"].append(device)
    started = time.perf_counter() - record["seconds"]
    session_start = time.perf_counter()
    running: dict[str, float] = {}
    counted = 0  # steps in `running`: fewer than checkpoint_every after a resume between checkpoints
    while (
        record["steps"] < config.steps
        and record["stopped"] != "time budget"
        and (stop_after is None or record["steps"] < stop_after)
    ):
        figures = dict(step(record["steps"]))
        lr = figures.pop("lr", None)
        for k, v in figures.items():
            running[k] = running.get(k, 0.0) + float(v)
        counted += 1
        record["steps"] += 1
        record["seconds"] = time.perf_counter() - started
        if record["steps"] % config.checkpoint_every == 0 or record["steps"] == config.steps:
            point = {k: round(v / counted, 5) for k, v in running.items()}
            record["curve"].append({"step": record["steps"], "seconds": round(record["seconds"], 1), **point})
            running, counted = {}, 0
            rate = f"  lr {lr:.2e}" if lr is not None else ""
            log.info("step %d  %.0f s%s  %s", record["steps"], record["seconds"], rate, point)
            checkpoint()
        if stop_after is not None and record["steps"] >= stop_after:
            checkpoint()
            break
        if session_seconds is not None and time.perf_counter() - session_start > session_seconds:
            log.info("this run's %.0f s are up at step %d: rerun to go on", session_seconds, record["steps"])
            checkpoint()
            break
        if record["seconds"] > config.time_budget_s:
            record["stopped"] = "time budget"
            log.warning("time budget reached at step %d", record["steps"])
            checkpoint()
    runs = record.setdefault("runs_seconds", [])
    if sum(runs) < before - 1.0:  # a call made before runs were recorded counts as one
        runs.append(round(before - sum(runs), 1))
    if record["seconds"] > before:  # a call that found the run finished (e.g. to export again) adds no run
        runs.append(round(record["seconds"] - before, 1))
    if record_path is not None and record_path.exists():
        record_path.write_text(json.dumps(record))
    return record


def finished(
    record: Mapping[str, Any], config: RunConfig, session_minutes: float, stop_after: int | None = None
) -> bool:
    """Whether a run is over (all its steps, or `stop_after` of them, or its time budget); if not, logs that a
    rerun goes on from here."""
    goal = config.steps if stop_after is None else min(stop_after, config.steps)
    if record["steps"] >= goal or record["stopped"] == "time budget":
        return True
    log.warning(
        "training stopped at step %d of %d (this call's %.0f minutes are up): run the build again to go on",
        record["steps"], goal, session_minutes,
    )  # fmt: skip
    return False


def training_record(config: RunConfig, record: Mapping[str, Any], device: str) -> dict[str, Any]:
    """What the manifest keeps of a finished run: configuration, steps, time, why it stopped, the last five points of
    the curve, the device, and the time budget."""
    return {
        "config": config.to_dict(),
        "steps": record["steps"],
        "seconds": round(record["seconds"], 1),
        "stopped": record["stopped"],
        "curve": record["curve"][-5:],
        "device": device,
        "time_budget_s": config.time_budget_s,
    }
