"""Toxicity training: heads graph, encoder export parity, encoder reuse, data splits, committed figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.linear_model import LogisticRegression

from services import toxicity
from services.registry import Registry
from tests.helpers import require_data
from tests.toxicity.conftest import _tiny_encoder_graph
from training.common.manifest import write_model
from training.toxicity import build
from training.toxicity import encoder as toxicity_encoder


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def test_heads_graph_matches_sklearn_probabilities() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 384)).astype(np.float32)
    heads = {
        "davidson": LogisticRegression(max_iter=500).fit(x, rng.integers(0, 3, 200)),
        "olid": LogisticRegression(max_iter=500).fit(x, rng.integers(0, 2, 200)),
    }
    out = _run(build.heads_graph(heads, encoder_sha256="x"), {"embedding": x})
    for name, model in heads.items():
        np.testing.assert_allclose(out[name], model.predict_proba(x), atol=1e-5)


def test_varied_texts_cover_every_kind_of_input() -> None:
    texts = toxicity_encoder.varied_texts(1000)
    assert len(texts) == 1000 and texts == toxicity_encoder.varied_texts(1000)
    assert "" in texts and "😀" in texts
    assert any(len(t.split()) > 300 for t in texts)  # longer than the 256 tokens the encoder reads
    assert any("中文" in t for t in texts) and any("русском" in t for t in texts)


def test_quantize_int8_keeps_the_encoder_contract() -> None:
    model = _tiny_encoder_graph(seed=5)
    ids = np.array([[101, 2023, 2003, 102], [101, 7592, 102, 0]])
    feeds = {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)}
    fp32, int8 = _run(model, feeds)["embedding"], _run(toxicity_encoder.quantize_int8(model), feeds)["embedding"]
    assert int8.shape == (2, 384)
    assert (fp32 * int8).sum(1).min() > 0.95


def test_encoder_is_reused_when_its_fingerprint_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = [{"dataset": "synthetic", "files": []}]
    stamp = build.fingerprint(datasets)
    encoder = _tiny_encoder_graph(seed=2)
    del encoder.metadata_props[:]
    onnx.helper.set_model_props(encoder, {"fingerprint": stamp})
    write_model(tmp_path, toxicity.ENCODER_KEY, encoder, metrics={}, training={}, data={})
    before = (tmp_path / "manifest.json").read_text()

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder was fine-tuned again")

    monkeypatch.setattr(build, "finetune", never)
    reused = build._served_encoder([], tmp_path, {"datasets": datasets, "encoder": {}})
    assert reused.SerializeToString() == encoder.SerializeToString()
    assert (tmp_path / "manifest.json").read_text() == before


@pytest.mark.slow
def test_stock_encoder_export_matches_sentence_transformers() -> None:
    reference = toxicity_encoder.sentence_transformer()
    model = toxicity_encoder.export(reference, {"demo": "toxicity"})
    texts = toxicity_encoder.varied_texts(1100)
    assert toxicity_encoder.parity(model, texts, reference) >= toxicity_encoder.PARITY_MIN_COSINE
    fused = {node.op_type for node in model.graph.node if node.domain == "com.microsoft"}
    assert {"Attention", "SkipLayerNormalization"} <= fused


@pytest.mark.data
def test_splits_are_the_documented_sizes() -> None:
    from training.toxicity.data import davidson, olid

    data = require_data("davidson_hate_offensive/labeled_data.csv").parent.parent
    require_data("olid/olid-training-v1.0.tsv")
    first, second = davidson(data), olid(data)
    assert [len(s.texts) for s in (first.train, first.valid, first.test)] == [17843, 1983, 4957]
    assert [len(s.texts) for s in (second.train, second.valid, second.test)] == [11916, 1324, 860]
    assert np.bincount(second.test.labels).tolist() == [620, 240]
    assert np.bincount(first.test.labels).tolist() == [286, 3838, 833]  # stratified: 5.8% / 77.4% / 16.8%


@pytest.mark.data
def test_committed_models_reproduce_the_recorded_olid_figures(committed_registry: Registry) -> None:
    from training.toxicity.data import olid
    from training.toxicity.evaluate import evaluate

    corpus = olid(require_data("olid/olid-training-v1.0.tsv").parent.parent)
    batch = toxicity.classify_many(list(corpus.test.texts), registry=committed_registry)
    figures = evaluate(corpus, batch.probabilities["olid"])
    recorded = committed_registry.entry(toxicity.HEADS_KEY)["metrics"]["olid"]
    assert figures["macro_f1"] == pytest.approx(recorded["macro_f1"], abs=2e-3)
    assert figures["split"] == recorded["split"] == "olid test (860 tweets)"


def test_benign_examples_leave_the_regression_sentences_out() -> None:
    from training.toxicity.augment import benign_examples
    from training.toxicity.evaluate import REGRESSION_SENTENCES

    examples = {t.casefold() for t in benign_examples()}
    assert len(examples) == len(benign_examples()) >= 100
    assert not examples & {text.casefold() for text, _ in REGRESSION_SENTENCES}
    assert not any("hate you" in t for t in examples)  # the famous sentence's clause stays unseen


@pytest.mark.parametrize("classes, target", [(2, 1), (3, 0)])
def test_shift_intercept_moves_predictions_toward_the_target_class(classes: int, target: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5))
    y = np.where(x[:, 0] > 1.0, target, (target + 1) % classes)  # the target class is the rare one
    model = LogisticRegression().fit(x, y)
    before = (model.predict(x) == target).sum()
    shift = build._shift_intercept(model, x, y, target)
    assert shift in build.BIAS_GRID
    assert (model.predict(x) == target).sum() >= before
