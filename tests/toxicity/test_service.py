"""The toxicity service on a stand-in encoder (contract, bad input) and on the committed models (golden)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from services import toxicity
from services.errors import InvalidInputError, ModelUnavailableError
from services.registry import Registry
from services.text_encoder import MAX_TOKENS, _batches
from training.common.manifest import write_model

FAMOUS = "Hate is everywhere but I don't hate you"


@pytest.fixture
def tiny(tiny_toxicity_dir: Path) -> Registry:
    return Registry(tiny_toxicity_dir, ["CPUExecutionProvider"])


def test_normalise_decodes_entities_and_masks_mentions_and_links() -> None:
    text = "RT @some_user: this &amp; that &#8220;ok&#8221;  https://t.co/x1 www.example.org"
    assert toxicity.normalise(text) == "RT @USER: this & that “ok” URL URL"


def test_batches_stay_within_the_token_budget_and_cover_every_text() -> None:
    lengths = sorted([5] * 300 + [40] * 100 + [256] * 20)
    slices = _batches(lengths, 4096)
    assert sum(s.stop - s.start for s in slices) == len(lengths)
    assert all(lengths[s.stop - 1] * (s.stop - s.start) <= 4096 for s in slices)


def test_classify_returns_probabilities_for_both_heads(tiny: Registry) -> None:
    result = toxicity.classify("you idiot", registry=tiny)
    assert set(result.probabilities) == {"olid", "davidson"}
    for head, labels in toxicity.HEADS.items():
        assert list(result.probabilities[head]) == list(labels)
        assert sum(result.probabilities[head].values()) == pytest.approx(1.0, abs=1e-5)
    assert result.score == pytest.approx(result.probabilities["olid"]["offensive"])
    assert set(result.timings_ms) == {"tokenize", "encoder", "heads"}


def test_classify_decision_follows_the_threshold(tiny: Registry) -> None:
    score = toxicity.classify("hello friend", registry=tiny).score
    assert toxicity.classify("hello friend", threshold=min(score + 0.01, 0.99), registry=tiny).toxic is False
    assert toxicity.classify("hello friend", threshold=max(score - 0.01, 0.01), registry=tiny).toxic is True


def test_classify_davidson_score_is_one_minus_neither(tiny: Registry) -> None:
    result = toxicity.classify("such an idiot", head="davidson", registry=tiny)
    assert result.score == pytest.approx(1 - result.probabilities["davidson"]["neither"], abs=1e-6)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x07"])
def test_classify_refuses_empty_text(tiny: Registry, text: str) -> None:
    with pytest.raises(InvalidInputError, match="The comment is empty"):
        toxicity.classify(text, registry=tiny)


def test_classify_refuses_too_long_text(tiny: Registry) -> None:
    with pytest.raises(InvalidInputError, match="characters; the limit is 10,000"):
        toxicity.classify("a" * 10_001, registry=tiny)


@pytest.mark.parametrize("value", [None, 3, b"bytes", ["list"]])
def test_classify_refuses_non_text(tiny: Registry, value: object) -> None:
    with pytest.raises(InvalidInputError, match="Expected text"):
        toxicity.classify(value, registry=tiny)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0, 1, -0.2, 1.5, True, "0.5", float("nan")])
def test_classify_refuses_a_threshold_outside_zero_one(tiny: Registry, threshold: object) -> None:
    with pytest.raises(InvalidInputError, match="threshold must be a number between 0 and 1"):
        toxicity.classify("hello", threshold=threshold, registry=tiny)  # type: ignore[arg-type]


def test_classify_refuses_an_unknown_head(tiny: Registry) -> None:
    with pytest.raises(InvalidInputError, match="Unknown head 'jigsaw'; choose one of: olid, davidson"):
        toxicity.classify("hello", head="jigsaw", registry=tiny)


def test_classify_notes_truncation_of_long_text(tiny: Registry) -> None:
    result = toxicity.classify("word " * 400, registry=tiny)
    assert result.truncated and result.tokens == MAX_TOKENS
    assert any(f"longer than {MAX_TOKENS} tokens" in note for note in result.notes)


def test_classify_notes_non_latin_text(tiny: Registry) -> None:
    result = toxicity.classify("Это отличная новость, поздравляю!", registry=tiny)
    assert any("not in the Latin alphabet" in note for note in result.notes)


def test_classify_notes_emoji_only_text(tiny: Registry) -> None:
    result = toxicity.classify("🔥🔥 💀", registry=tiny)
    assert result.notes == (
        "The comment has no letters (only emoji, digits or punctuation): the score rests on those alone.",
    )


def test_classify_many_matches_single_calls_and_marks_empty_rows(tiny: Registry) -> None:
    texts = ["you idiot", "", "hello friend", "   ", "word " * 300]
    batch = toxicity.classify_many(texts, registry=tiny)
    assert batch.precision == "fp32"  # no int8 encoder in this models folder: the fp32 one scores the batch
    assert batch.empty.tolist() == [False, True, False, True, False]
    assert np.isnan(batch.scores[[1, 3]]).all()
    for i in (0, 2, 4):
        assert batch.scores[i] == pytest.approx(toxicity.classify(texts[i], registry=tiny).score, abs=1e-5)
    assert batch.notes() == ["", "empty", "", "empty", "truncated"]
    assert batch.decisions(0.5)[1] == "" and set(batch.decisions(0.5)[::2]) <= {"toxic", "not toxic"}


def test_classify_many_refuses_bad_batches(tiny: Registry) -> None:
    with pytest.raises(InvalidInputError, match="Give a list of comments"):
        toxicity.classify_many("one string", registry=tiny)
    with pytest.raises(InvalidInputError, match="Give a list of comments"):
        toxicity.classify_many([], registry=tiny)
    with pytest.raises(InvalidInputError, match="Comment 2 is not text \\(float\\)"):
        toxicity.classify_many(["ok", float("nan")], registry=tiny)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="score at most 5,000"):
        toxicity.classify_many(["x"] * 5_001, registry=tiny)


def test_explain_gives_one_contribution_per_word(tiny: Registry) -> None:
    result = toxicity.explain("what a  lovely\nday", registry=tiny)
    assert result.words == ("what", "a", "lovely", "day")
    assert len(result.contributions) == 4 and result.explained_all
    assert result.score == pytest.approx(toxicity.classify("what a lovely day", registry=tiny).score, abs=1e-5)


def test_explain_covers_only_the_first_words_of_a_long_text(tiny: Registry) -> None:
    result = toxicity.explain(" ".join(f"w{i}" for i in range(100)), registry=tiny)
    assert len(result.words) == toxicity.MAX_EXPLAIN_WORDS and not result.explained_all


def test_explain_refuses_empty_text(tiny: Registry) -> None:
    with pytest.raises(InvalidInputError, match="nothing to explain"):
        toxicity.explain("  ", registry=tiny)


def test_load_refuses_heads_fitted_on_another_encoder(tiny_toxicity_dir: Path, tmp_path: Path) -> None:
    models = Path(shutil.copytree(tiny_toxicity_dir, tmp_path / "models"))
    heads = onnx.load(str(models / "toxicity" / "heads.onnx"))
    for prop in heads.metadata_props:
        if prop.key == "encoder_sha256":
            prop.value = "f" * 64  # as if the encoder had been rebuilt after these heads
    write_model(models, toxicity.HEADS_KEY, heads, metrics={}, training={}, data={})
    with pytest.raises(ModelUnavailableError, match="was fitted on another encoder than toxicity/encoder"):
        toxicity.load(Registry(models, ["CPUExecutionProvider"]))


def test_load_names_the_rebuild_command_when_the_encoder_is_missing(tiny_toxicity_dir: Path, tmp_path: Path) -> None:
    models = Path(shutil.copytree(tiny_toxicity_dir, tmp_path / "models"))
    (models / "toxicity" / "encoder.onnx").unlink()
    with pytest.raises(ModelUnavailableError, match="python -m training toxicity"):
        toxicity.classify("hello", registry=Registry(models, ["CPUExecutionProvider"]))


def test_committed_model_does_not_flag_the_famous_sentence(committed_registry: Registry) -> None:
    result = toxicity.classify(FAMOUS, registry=committed_registry)
    assert result.head == "olid" and not result.toxic and result.score < 0.5


def test_committed_model_gets_the_hand_written_sentences_right(committed_registry: Registry) -> None:
    from training.toxicity.evaluate import REGRESSION_SENTENCES

    texts = [text for text, _ in REGRESSION_SENTENCES]
    expected = np.array([offensive for _, offensive in REGRESSION_SENTENCES])
    olid = toxicity.classify_many(texts, fast=False, registry=committed_registry)
    davidson = toxicity.classify_many(texts, head="davidson", fast=False, registry=committed_registry)
    assert ((olid.scores >= 0.5) == expected).all()
    assert ((davidson.scores >= 0.5) == expected).sum() >= 11  # the famous sentence: 0.60 (see the model card)


def test_committed_int8_encoder_agrees_with_fp32(committed_registry: Registry) -> None:
    from training.toxicity.evaluate import REGRESSION_SENTENCES

    texts = [text for text, _ in REGRESSION_SENTENCES]
    fast = toxicity.classify_many(texts, registry=committed_registry)
    exact = toxicity.classify_many(texts, fast=False, registry=committed_registry)
    assert fast.precision == "int8" and exact.precision == "fp32"
    np.testing.assert_allclose(fast.scores, exact.scores, atol=0.1)
    assert ((fast.scores >= 0.5) == (exact.scores >= 0.5)).all()


def test_committed_model_explains_an_insult_by_its_insult(committed_registry: Registry) -> None:
    result = toxicity.explain("You are a worthless idiot and everyone knows it", registry=committed_registry)
    top = result.words[int(np.argmax(result.contributions))]
    assert top in {"worthless", "idiot"}


@pytest.mark.parametrize("matching", [True, False])
def test_batches_use_int8_only_when_it_was_quantised_from_this_encoder(
    tiny_toxicity_dir: Path, tmp_path: Path, matching: bool
) -> None:
    from tests.toxicity.conftest import _tiny_encoder_graph
    from training.toxicity.encoder import quantize_int8

    models = Path(shutil.copytree(tiny_toxicity_dir, tmp_path / "models"))
    registry = Registry(models, ["CPUExecutionProvider"])
    source = registry.entry(toxicity.ENCODER_KEY)["sha256"] if matching else "e" * 64
    int8 = quantize_int8(_tiny_encoder_graph(seed=3))
    del int8.metadata_props[:]
    onnx.helper.set_model_props(int8, {"demo": "toxicity", "quantised_from": source})
    write_model(models, toxicity.INT8_KEY, int8, metrics={}, training={}, data={})
    batch = toxicity.classify_many(["you idiot", "hello friend"], registry=Registry(models, ["CPUExecutionProvider"]))
    assert batch.precision == ("int8" if matching else "fp32")
