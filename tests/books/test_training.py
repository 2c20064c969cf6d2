"""Recommender training: leave-one-out, metrics, the iALS algebra, the ONNX graphs' parity, the real build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from services.books import MODEL_KEY, SIMILAR_KEY
from services.registry import sha256_file
from tests.books.conftest import synthetic_ratings
from tests.helpers import MODELS_DIR, require_data
from training.books import recsys
from training.books.build import load_ratings, rating_matrix
from training.books.export import parity, recommender_graph, similar_graph, title_factors

CONFIG = recsys.IalsConfig(factors=6, reg=3.0, alpha=4.0, explicit_boost=1.0, iterations=5, seed=0)


def _matrix(seed: int = 0) -> np.ndarray:
    matrix, _ = rating_matrix(synthetic_ratings(40, 20, seed=seed))
    return matrix


def test_leave_one_out_holds_out_one_seen_title_per_user() -> None:
    matrix = _matrix()
    split = recsys.leave_one_out(matrix, seed=42)
    assert np.all(~np.isnan(matrix[split.users, split.held_out]))
    assert np.all(np.isnan(split.train[split.users, split.held_out]))
    assert (~np.isnan(matrix)).sum() - (~np.isnan(split.train)).sum() == len(split.users)


def test_hit_rate_counts_a_held_out_title_ranked_first() -> None:
    train = np.array([[5.0, np.nan, np.nan], [np.nan, 5.0, np.nan]])
    split = recsys.Split(train, np.array([0, 1]), np.array([1, 2]))
    scores = np.array([[9.0, 3.0, 1.0], [0.0, 9.0, 0.5]])  # user 0: title 1 ranks first among unseen
    measured = recsys.hit_rate_ndcg(scores, split, k=1)
    assert measured["hr@1"] == 1.0 and measured["ndcg@1"] == 1.0


def test_paired_bootstrap_brackets_the_mean_difference() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(500) < 0.3, rng.random(500) < 0.2
    low, high = recsys.paired_bootstrap(a, b, seed=1)
    assert low < a.mean() - b.mean() < high and high - low < 0.15


def test_confidence_gives_dislikes_no_weight() -> None:
    weights = recsys.confidence(np.array([[np.nan, 0.0, 3.0, 8.0]]), alpha=2.0, explicit_boost=1.0)
    np.testing.assert_allclose(weights, [[0.0, 2.0, 0.0, 2.0 * 1.8]])


def test_recommender_graph_matches_the_numpy_fold_in() -> None:
    matrix = _matrix()
    items = recsys.ials_fit(matrix, CONFIG)
    probes = np.vstack(
        [matrix, np.where(np.arange(20) == 3, 2.0, np.nan)[None], np.where(np.arange(20) < 2, 0.0, np.nan)[None]]
    )
    _, diff = parity(recommender_graph(items, CONFIG, metadata={}), probes, items, CONFIG)
    assert diff < 1e-3


def test_recommender_graph_names_the_strongest_pick_as_because() -> None:
    matrix = _matrix()
    items = recsys.ials_fit(matrix, CONFIG)
    session = ort.InferenceSession(recommender_graph(items, CONFIG, metadata={}).SerializeToString())
    picks = np.full((1, 20), np.nan, np.float32)
    picks[0, [0, 1]] = [9, 2]  # title 1 is disliked: never a reason
    titles, scores, because = session.run(None, {"ratings": picks, "top_k": np.array([5])})
    assert set(because[0]) == {0}
    assert 0 not in titles[0] and 1 not in titles[0]
    assert np.all(np.diff(scores[0]) <= 0)


def test_similar_graph_ranks_by_cosine_and_skips_the_title_itself() -> None:
    items = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    session = ort.InferenceSession(similar_graph(items, metadata={}).SerializeToString())
    titles, scores = session.run(None, {"title": np.array([0]), "top_k": np.array([3])})
    assert titles[0].tolist() == [1, 2, 3]
    assert scores[0][0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), abs=1e-6)


def test_training_writes_both_artifacts_and_manifest_entries(tiny_books_dir: Path) -> None:
    manifest = json.loads((tiny_books_dir / "manifest.json").read_text())["models"]
    for key in (MODEL_KEY, SIMILAR_KEY):
        entry = manifest[key]
        assert entry["sha256"] == sha256_file(tiny_books_dir / entry["file"])
        assert {p.key: p.value for p in onnx.load(tiny_books_dir / entry["file"]).metadata_props} == entry["metadata"]
    metrics = manifest[MODEL_KEY]["metrics"]
    assert set(metrics["leave_one_out"]) == {"explicit", "implicit"}
    assert set(metrics["leave_one_out"]["implicit"]) == {"popularity", "item_item", "mf_explicit", "ials"}
    assert metrics["parity"]["max_abs_diff_score"] < 1e-3
    assert manifest[MODEL_KEY]["inputs"][0] == {"name": "ratings", "dtype": "float32", "shape": ["batch", 24]}


@pytest.mark.data
def test_rating_matrix_of_the_real_subset_has_the_published_shape() -> None:
    path = require_data("book_crossing/final_ratings_u200_b50.csv.gz")
    frame = load_ratings(path.parent.parent)
    matrix, titles = rating_matrix(frame)
    assert matrix.shape == (810, 706) and len(titles) == 706
    assert "Angels & Demons" in titles  # HTML entities of the crawl are decoded


@pytest.mark.slow
@pytest.mark.data
def test_committed_recommender_matches_numpy_on_every_real_reader() -> None:
    """The committed graph against a numpy fold-in with its own factors, for all 810 readers of the data."""
    path = require_data("book_crossing/final_ratings_u200_b50.csv.gz")
    matrix, titles = rating_matrix(load_ratings(path.parent.parent))
    models = MODELS_DIR
    entry = json.loads((models / "manifest.json").read_text())["models"][MODEL_KEY]
    assert json.loads((models / entry["sidecars"]["catalog"]["file"]).read_text())["title"] == titles
    model = onnx.load(models / entry["file"])
    served = recsys.IalsConfig(**entry["training"]["served"])
    _, diff = parity(model, matrix, title_factors(model), served)
    assert diff < 1e-3
