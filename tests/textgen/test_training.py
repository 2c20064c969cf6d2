"""The text-generation build: export parity, data handling, resumable training, committed figures reproduced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from services import textgen
from tests.helpers import require_data
from tests.textgen.conftest import tiny_char_models
from training.textgen import net as tk
from training.textgen.data import NOT_NAMES, clean_names


def test_exported_step_graph_matches_the_keras_sequence_model() -> None:
    """Parity: the ONNX step graph run character by character gives the Keras GRU's logits."""
    for name, (model, proto, symbols) in tiny_char_models().items():
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["token", "state"]
        assert [o.name for o in session.get_outputs()] == ["logits", "next_state"]
        ids = np.random.default_rng(0).integers(0, len(symbols), (3, 40)).astype(np.int32)
        reference = model.predict(ids, verbose=0)
        layers = 2 if name == "shakespeare" else 1
        state = np.zeros((3, layers, 16), np.float32)
        for t in range(ids.shape[1]):
            logits, state = session.run(None, {"token": ids[:, t], "state": state})
            np.testing.assert_allclose(logits, reference[:, t], atol=1e-5)


def test_carried_batches_continue_each_row_across_batches() -> None:
    ids = np.arange(5_000, dtype=np.int32)
    x, y, _ = tk.carried_batches(ids, seq_len=10, streams=4, seed=1)(0)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # targets are the next characters
    np.testing.assert_array_equal(x[4:, 0], x[:-4, -1] + 1)  # row b of batch k+1 starts where it ended
    assert len(np.unique(x)) == x.size  # no character read twice in an epoch
    other, _, _ = tk.carried_batches(ids, seq_len=10, streams=4, seed=1)(1)
    assert other[0, 0] != x[0, 0] or other.shape != x.shape or not np.array_equal(other, x)


def test_training_resumes_from_its_checkpoint_and_respects_the_time_budget(tmp_path: Path) -> None:
    text = np.random.default_rng(0).integers(0, 5, 4_000).astype(np.int32)
    cfg = tk.CharModelConfig(5, 4, 8, 1, 0.0, 10, 8, 1e-2, 1e-3, 2, stateful=True)
    batches = tk.carried_batches(text[:3_000], 10, 8, 0)
    validation = tk.carried_batches(text[3_000:], 10, 8, None)(0)
    first = tk.train(cfg, batches, validation, tmp_path / "run")
    assert [h["epoch"] for h in first.history] == [1, 2] and first.stopped == "epochs"
    again = tk.train(cfg, batches, validation, tmp_path / "run")  # already done: nothing retrained
    assert again.history == first.history and again.seconds == first.seconds
    short = tk.CharModelConfig(5, 4, 8, 1, 0.0, 10, 8, 1e-2, 1e-3, 50, time_budget_s=1e-3, stateful=True)
    stopped = tk.train(short, batches, validation, tmp_path / "short")
    assert len(stopped.history) == 1 and stopped.stopped == "time budget"


def test_clean_names_undoes_each_quirk() -> None:
    cleaned = clean_names(["Aardonyx", "DiceratusDiclonius", "Skeleton", "habodcraniosaurus", "Aardonyx", "", "Zby"])
    assert cleaned.names == ["aardonyx", "diceratus", "diclonius", "habodcraniosaurus", "zby"]
    assert cleaned.changes["split"] == ["DiceratusDiclonius -> Diceratus + Diclonius"]
    assert cleaned.changes["dropped_not_names"] == ["Skeleton"]
    assert cleaned.changes["lowercased"] == ["habodcraniosaurus"]
    assert cleaned.changes["dropped_repeats"] == ["Aardonyx"]


def test_course_file_cleaning_and_split() -> None:
    require_data("dinosaur_names/dinos.txt")
    from training.textgen.data import dinosaur_names

    names = dinosaur_names(require_data("dinosaur_names/dinos.txt").parent.parent)
    assert {k: len(v) for k, v in names.changes.items()} == {
        "split": 10,
        "dropped_not_names": 4,
        "lowercased": 1,
        "dropped_repeats": 11,
    }
    everything = names.train + names.validation
    assert len(everything) == len(set(everything)) == 1_531
    assert not set(names.train) & set(names.validation) and len(names.validation) == 153
    assert not NOT_NAMES & set(everything)
    assert names.vocabulary == ["\n", *"abcdefghijklmnopqrstuvwxyz"]


def test_shakespeare_split_is_nanogpts() -> None:
    from training.textgen.data import shakespeare

    corpus = shakespeare(require_data("tiny_shakespeare/input.txt").parent.parent)
    assert (len(corpus.train), len(corpus.validation)) == (1_003_854, 111_540)
    assert len(corpus.vocabulary) == 65


def test_committed_shakespeare_figures_are_reproduced(committed_registry) -> None:
    """The manifest's validation loss and sample come back from the committed graph."""
    from training.textgen.data import shakespeare
    from training.textgen.evaluate import stream_loss

    model = textgen.load("shakespeare", committed_registry)
    metrics = model.loaded.entry["metrics"]
    sample = textgen.generate("ROMEO:", max_new_tokens=400, temperature=0.8, seed=0, registry=committed_registry)
    assert sample == metrics["sample"]
    corpus = shakespeare(require_data("tiny_shakespeare/input.txt").parent.parent)
    loss = stream_loss(model, tk.encode(corpus.validation, list(model.symbols)))
    assert loss == pytest.approx(metrics["validation_loss_nats"], abs=1e-3)


def test_committed_names_novelty_is_reproduced(committed_registry) -> None:
    from training.textgen.data import dinosaur_names
    from training.textgen.evaluate import novelty

    names = dinosaur_names(require_data("dinosaur_names/dinos.txt").parent.parent)
    model = textgen.load("dinosaurs", committed_registry)
    found, recorded = novelty(model, names.train), model.loaded.entry["metrics"]["novelty"]
    for share in ("novel_share", "unique_share", "name_like_share"):  # another CPU may flip a draw or two
        assert found[share] == pytest.approx(recorded[share], abs=0.005)
    assert found["beam_top10"] == recorded["beam_top10"]
    assert all(model.in_training(n) for n in names.train)
    assert not any(model.in_training(n) for n in names.validation)
