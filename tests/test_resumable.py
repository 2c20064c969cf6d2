"""The shared resumable loop: a curve point averages the steps it really saw, also after a resume between
checkpoints, and a stopped run resumes where it left off."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from training.common.resumable import finished, run_steps, saved_record, set_options


@dataclass(frozen=True)
class Config:
    steps: int = 6
    checkpoint_every: int = 2
    time_budget_s: float = 3600.0

    def to_dict(self) -> dict:
        return asdict(self)


def _run(folder: Path, stop_after: int | None = None) -> dict:
    def save(where: Path) -> None:
        (where / "state.json").write_text("{}")

    def load(where: Path) -> None:
        assert (where / "state.json").exists()

    return run_steps(Config(), folder, lambda i: {"loss": float(i)}, save=save, load=load, stop_after=stop_after)


def test_curve_points_average_the_steps_they_saw_across_a_resume(tmp_path: Path) -> None:
    _run(tmp_path, stop_after=3)  # checkpoints at step 2 and (stopping) at step 3
    record = _run(tmp_path)
    assert record["steps"] == 6
    losses = {point["step"]: point["loss"] for point in record["curve"]}
    # steps 0-1 -> 0.5; after the resume at step 3 the point at step 4 saw step 3 alone; steps 4-5 -> 4.5
    assert losses == {2: 0.5, 4: 3.0, 6: 4.5}
    assert json.loads((tmp_path / "record.json").read_text())["steps"] == 6


def test_calling_a_finished_run_again_adds_no_run(tmp_path: Path) -> None:
    _run(tmp_path, stop_after=3)
    finished = _run(tmp_path)
    assert len(finished["runs_seconds"]) == 2
    again = _run(tmp_path)  # e.g. a rebuild that only exports the finished network again
    assert again["steps"] == 6 and again["runs_seconds"] == finished["runs_seconds"]


@dataclass(frozen=True)
class LaterConfig(Config):
    """Config with an option added after runs were made; None leaves it unset."""

    extra: int | None = None


def test_a_run_made_before_an_option_existed_resumes_while_the_option_is_unset(tmp_path: Path) -> None:
    _run(tmp_path, stop_after=3)
    saved = json.loads((tmp_path / "record.json").read_text())
    assert "extra" not in saved["config"]
    assert saved_record(LaterConfig(), tmp_path) == saved  # unset: the same run, resumed
    assert saved_record(LaterConfig(extra=2), tmp_path) is None  # set: another configuration, started afresh
    assert set_options(LaterConfig()) == set_options(Config()) == saved["config"]
    assert saved_record(Config(steps=7), tmp_path) is None


def test_a_run_stopped_on_purpose_is_finished_at_its_stop(tmp_path: Path) -> None:
    record = _run(tmp_path, stop_after=3)
    assert finished(record, Config(), 1.0, stop_after=3) and not finished(record, Config(), 1.0)
    assert not finished(record, Config(), 1.0, stop_after=4)
