"""services.textgen on random-weight generators exported by the real code: contract, sampling, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from services import textgen
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry


@pytest.fixture(scope="module")
def registry(tiny_textgen_dir: Path) -> Registry:
    return Registry(tiny_textgen_dir, ["CPUExecutionProvider"])


def _score(model: textgen.CharModel, name: str) -> float:
    """log P(name + end | start) under the model, one step at a time."""
    state, total = model.initial_state(), 0.0
    logits, state = model.step(np.array([model.index[model.end]]), state)
    for ch in name + model.end:
        z = logits[0].astype(np.float64)
        total += z[model.index[ch]] - z.max() - math.log(np.exp(z - z.max()).sum())
        logits, state = model.step(np.array([model.index[ch]]), state)
    return total


def test_same_seed_same_text_and_length(registry: Registry) -> None:
    first = textgen.generate("ROMEO:", max_new_tokens=120, seed=7, registry=registry)
    again = textgen.generate("ROMEO:", max_new_tokens=120, seed=7, registry=registry)
    other = textgen.generate("ROMEO:", max_new_tokens=120, seed=8, registry=registry)
    assert first == again and len(first) == 120
    assert other != first
    assert set(first) <= set(textgen.load("shakespeare", registry).symbols)


def test_stream_yields_the_same_characters_and_measures_speed(registry: Registry) -> None:
    generation = textgen.stream("To be", max_new_tokens=80, seed=3, registry=registry)
    pieces = list(generation)
    assert all(len(p) == 1 for p in pieces)
    assert "".join(pieces) == generation.text == textgen.generate("To be", max_new_tokens=80, seed=3, registry=registry)
    assert generation.chars_per_second > 0 and generation.prompt_ms > 0
    assert generation.notes == ()
    assert "".join(generation) == generation.text == "".join(pieces)  # a second pass starts over


def test_greedy_ignores_the_seed_and_top_k_1_is_greedy(registry: Registry) -> None:
    greedy = [textgen.generate("A", max_new_tokens=50, temperature=0, seed=s, registry=registry) for s in (1, 2)]
    assert greedy[0] == greedy[1]
    assert textgen.generate("A", max_new_tokens=50, top_k=1, seed=9, registry=registry) == greedy[0]
    assert textgen.generate("A", max_new_tokens=50, top_p=1e-6, seed=9, registry=registry) == greedy[0]


def test_prompt_outside_the_vocabulary_is_explained(registry: Registry) -> None:
    generation = textgen.stream("Caf\u00e9 \u2019tis 42 \u20ac", max_new_tokens=5, seed=1, registry=registry)
    text = "".join(generation)
    assert len(text) == 5
    assert generation.prompt.text == "Cafe 'tis  "
    notes = " ".join(generation.notes)
    assert "'é' was read as 'e'" in notes and "'’' was read as \"'\"" in notes
    assert "3 character(s) the shakespeare model never saw were left out: '4', '2', '€'" in notes


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens must be"),
        ({"max_new_tokens": 5001}, "max_new_tokens must be"),
        ({"max_new_tokens": 2.5}, "max_new_tokens must be"),
        ({"temperature": -0.1}, "temperature must be"),
        ({"temperature": 2.5}, "temperature must be"),
        ({"top_k": 0}, "top_k must be"),
        ({"top_k": 1000}, "top_k must be"),
        ({"top_p": 0.0}, "top_p must be"),
        ({"top_p": 1.5}, "top_p must be"),
        ({"seed": -1}, "seed must be"),
        ({"model": "sonnets"}, "Unknown generator 'sonnets'"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(registry: Registry, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        textgen.generate("Hi", registry=registry, **kwargs)


def test_bad_prompts_are_refused(registry: Registry) -> None:
    with pytest.raises(InvalidInputError, match="Expected text"):
        textgen.generate(b"bytes", registry=registry)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="limit is 2,000"):
        textgen.generate("x" * 2_001, registry=registry)


def test_next_token_follows_the_distribution() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    draws = np.bincount([textgen.next_token(logits, textgen.Sampling(temperature=1.0), rng) for _ in range(20_000)])
    assert np.allclose(draws / draws.sum(), [0.5, 0.3, 0.15, 0.05], atol=0.015)
    top2 = {textgen.next_token(logits, textgen.Sampling(temperature=1.0, top_k=2), rng) for _ in range(500)}
    assert top2 == {0, 1}
    nucleus = {textgen.next_token(logits, textgen.Sampling(temperature=1.0, top_p=0.85), rng) for _ in range(500)}
    assert nucleus == {0, 1, 2}  # 0.5 + 0.3 < 0.85 <= 0.95


def test_dinosaur_stream_writes_names_one_per_line(registry: Registry) -> None:
    text = textgen.generate("", model="dinosaurs", max_new_tokens=300, seed=5, registry=registry)
    names = text.split("\n")[:-1]
    assert len(names) >= 3
    assert all(textgen.MIN_NAME_CHARS <= len(n) <= textgen.MAX_NAME_CHARS and n.isalpha() for n in names)


def test_dinosaur_prompt_is_lower_cased_with_a_note(registry: Registry) -> None:
    generation = textgen.stream("Tyr", model="dinosaurs", max_new_tokens=10, seed=1, registry=registry)
    list(generation)
    assert generation.prompt.text == "tyr"
    assert "lower-cased" in generation.notes[0]


def test_sample_names_start_with_the_prefix_and_are_reproducible(registry: Registry) -> None:
    names = textgen.sample_names(40, prefix="Bra", seed=11, registry=registry)
    assert len(names) == 40
    assert all(n.name.startswith("bra") and 3 <= len(n.name) <= textgen.MAX_NAME_CHARS for n in names)
    assert names == textgen.sample_names(40, prefix="Bra", seed=11, registry=registry)
    model = textgen.load("dinosaurs", registry)
    for n in names[:5]:
        assert n.log_prob == pytest.approx(_score(model, n.name), abs=1e-4)


def test_beam_names_are_the_best_scored_complete_names(registry: Registry) -> None:
    model = textgen.load("dinosaurs", registry)
    best = textgen.beam_names("ab", beam_width=16, count=8, registry=registry)
    assert len(best) == 8 and len({n.name for n in best}) == 8
    assert [n.log_prob for n in best] == sorted((n.log_prob for n in best), reverse=True)
    for n in best:
        assert n.name.startswith("ab") and len(n.name) >= textgen.MIN_NAME_CHARS
        assert n.log_prob == pytest.approx(_score(model, n.name), abs=1e-4)
    sampled = textgen.sample_names(200, prefix="ab", seed=0, registry=registry)
    assert best[0].log_prob >= max(n.log_prob for n in sampled) - 1e-9


def test_training_names_are_recognised_by_hash_only(registry: Registry) -> None:
    model = textgen.load("dinosaurs", registry)
    assert model.in_training("abcsaurus") and not model.in_training("xyzsaurus")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: textgen.sample_names(0, registry=r), "count must be"),
        (lambda r: textgen.sample_names(5, prefix="a\nb", registry=r), "one word"),
        (lambda r: textgen.sample_names(5, prefix="a" * 30, registry=r), "shorter than 30"),
        (lambda r: textgen.beam_names("a", beam_width=0, registry=r), "beam_width must be"),
        (lambda r: textgen.beam_names("a", beam_width=4, count=5, registry=r), "count must be"),
    ],
)
def test_bad_name_requests_are_refused(registry: Registry, call, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call(registry)


def test_missing_model_names_the_rebuild(tiny_textgen_dir: Path, tmp_path: Path) -> None:
    import shutil

    models = Path(shutil.copytree(tiny_textgen_dir, tmp_path / "models"))
    (models / "textgen" / "shakespeare.onnx").unlink()
    with pytest.raises(ModelUnavailableError, match="python -m training textgen"):
        textgen.generate("Hi", registry=Registry(models, ["CPUExecutionProvider"]))
    assert textgen.sample_names(
        3, seed=0, registry=Registry(models, ["CPUExecutionProvider"])
    )  # the other generator still works
