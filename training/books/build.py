"""Book-Crossing recommender: popularity, the tutorial's item-item cosine, explicit MF and implicit ALS, compared by
leave-one-out; the best learned model is exported as two ONNX graphs (recommend for a new user, similar titles).

Items are the 706 titles (several ISBNs of one title are one item; a user's rating of a title is the highest over
its ISBNs). Ratings: 0 = read without a rating (implicit), 1-10 explicit.
"""

from __future__ import annotations

import html
import itertools
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.books import MODEL_KEY, SIMILAR_KEY, BooksCard
from training.books import recsys
from training.books.data import BOOK_CROSSING
from training.books.export import parity, recommender_graph, similar_graph
from training.common.datasets import locate
from training.common.manifest import write_model

log = logging.getLogger(__name__)

CONFIG: dict[str, Any] = {
    "leave_one_out_seed": 42,
    "validation_seed": 43,  # a second title held out of each training profile, for choosing hyper-parameters
    "grid": {"factors": [32, 64, 128], "reg": [10.0, 25.0, 50.0], "alpha": [1.0, 3.0, 10.0], "explicit_boost": [0, 1]},
    "ials": {"iterations": 12, "seed": 42},
    "mf": asdict(recsys.MfConfig()),
    "k": 10,
}
SETTINGS = ("explicit", "implicit")  # explicit ratings only; every interaction, implicit zeros included


def load_ratings(data_dir: Path, *, download: bool = False) -> pd.DataFrame:
    (path,) = locate(BOOK_CROSSING, data_dir, download=download)
    frame = pd.read_csv(path, dtype={"ISBN": str})
    for column in ("book_title", "Book-Author"):  # the crawl kept HTML entities ("Angels &amp; Demons")
        frame[column] = frame[column].map(html.unescape)
    return frame


def rating_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(users, titles) float64 matrix, NaN = no interaction; titles sorted. One value per (user, title): the max."""
    pairs = frame.groupby(["user_id", "book_title"])["Book-Rating"].max().reset_index()
    users = np.sort(pairs["user_id"].unique())
    titles = sorted(pairs["book_title"].unique())
    matrix = np.full((len(users), len(titles)), np.nan)
    matrix[np.searchsorted(users, pairs["user_id"]), np.searchsorted(titles, pairs["book_title"])] = pairs[
        "Book-Rating"
    ]
    return matrix, titles


def book_catalog(frame: pd.DataFrame, titles: list[str], matrix: np.ndarray) -> dict[str, list[Any]]:
    """Sidecar for the page: per title its most common author, its most read ISBN (for the cover), counts."""
    by_title = frame.groupby("book_title")
    author = by_title["Book-Author"].agg(lambda s: s.value_counts().sort_index().idxmax())
    isbn = by_title["ISBN"].agg(lambda s: s.value_counts().sort_index().idxmax())
    seen = ~np.isnan(matrix)
    explicit = np.nan_to_num(matrix, nan=0.0) > 0
    mean = np.where(explicit.any(0), np.nansum(np.where(explicit, matrix, 0), 0) / np.maximum(explicit.sum(0), 1), 0)
    return {
        "title": titles,
        "author": [str(author[t]) for t in titles],
        "isbn": [str(isbn[t]) for t in titles],
        "readers": seen.sum(0).astype(int).tolist(),
        "ratings": explicit.sum(0).astype(int).tolist(),
        "mean_rating": np.round(mean, 2).tolist(),
    }


def setting_matrix(matrix: np.ndarray, setting: str) -> np.ndarray:
    return np.where(matrix > 0, matrix, np.nan) if setting == "explicit" else matrix


def choose_ials(train: np.ndarray, config: dict[str, Any]) -> tuple[recsys.IalsConfig, dict[str, float]]:
    """Grid search on a validation title held out of each training profile; best NDCG@k wins."""
    validation = recsys.leave_one_out(train, seed=config["validation_seed"])
    grid = config["grid"]
    best: tuple[float, recsys.IalsConfig, dict[str, float]] | None = None
    for values in itertools.product(*grid.values()):
        candidate = recsys.IalsConfig(**dict(zip(grid, values, strict=True)), **config["ials"])
        items = recsys.ials_fit(validation.train, candidate)
        scores = recsys.ials_scores(validation.train, items, candidate)
        measured = recsys.hit_rate_ndcg(scores, validation, k=config["k"])
        if best is None or measured[f"ndcg@{config['k']}"] > best[0]:
            best = (measured[f"ndcg@{config['k']}"], candidate, measured)
    assert best is not None
    log.info("validation best %s: %s", best[1], best[2])
    return best[1], best[2]


def evaluate_setting(
    matrix: np.ndarray, config: dict[str, Any], ials: recsys.IalsConfig | None = None
) -> dict[str, Any]:
    """Leave-one-out HR@k / NDCG@k of every model in one setting; the iALS figures come from its ONNX graph.

    The iALS hyper-parameters are chosen on validation unless given (the benchmark reuses the chosen ones).
    """
    split = recsys.leave_one_out(matrix, seed=config["leave_one_out_seed"])
    k = config["k"]
    validation: dict[str, float] = {}
    if ials is None:
        ials, validation = choose_ials(split.train, config)
    items = recsys.ials_fit(split.train, ials)
    graph = recommender_graph(items, ials, metadata={})
    mf = recsys.MfConfig(**config["mf"])
    scores = {
        "popularity": recsys.popularity(split.train),
        "item_item": recsys.item_item(split.train),
        "mf_explicit": recsys.mf_scores(split.train, recsys.mf_fit(split.train, mf), mf),
        "ials": parity(graph, split.train, items, ials)[0],
    }
    ranks = {name: recsys.ranks(values, split) for name, values in scores.items()}
    results = {name: recsys.rank_metrics(rank, k=k) for name, rank in ranks.items()}
    results["ials"][f"hr@{k}_minus_item_item_ci95"] = recsys.paired_bootstrap(
        ranks["ials"] < k, ranks["item_item"] < k, seed=config["leave_one_out_seed"]
    )
    for name, measured in results.items():
        log.info("%s leave-one-out %s: %s", matrix.shape, name, measured)
    return {"models": results, "ials_config": asdict(ials), "ials_validation": validation}


def build(data_dir: Path, models_dir: Path, *, download: bool = False, config: dict[str, Any] = CONFIG) -> dict:
    """Evaluate, then train on every interaction and write models/books/{recommender,similar}.onnx."""
    return build_from_frame(load_ratings(data_dir, download=download), models_dir, config=config)


def build_from_frame(
    frame: pd.DataFrame, models_dir: Path, *, config: dict[str, Any], provenance: dict[str, Any] | None = None
) -> dict:
    start = time.perf_counter()
    matrix, titles = rating_matrix(frame)
    evaluation = {setting: evaluate_setting(setting_matrix(matrix, setting), config) for setting in SETTINGS}
    served = recsys.IalsConfig(**evaluation["implicit"]["ials_config"])
    items = recsys.ials_fit(matrix, served)  # the served model learns from every interaction
    seconds = time.perf_counter() - start
    metadata = {"portal.titles": str(len(titles)), "portal.factors": str(served.factors)}
    recommender = recommender_graph(items, served, metadata={"portal.key": MODEL_KEY, **metadata})
    similar = similar_graph(items, metadata={"portal.key": SIMILAR_KEY, **metadata})
    _, max_diff = parity(recommender, matrix, items, served)
    catalog = book_catalog(frame, titles, matrix)
    metrics = {
        "leave_one_out": {s: evaluation[s]["models"] for s in SETTINGS},
        "goal": {"hr_vs_popularity": 1.5, "beat": "item_item"},
        "parity": {"max_abs_diff_score": max_diff, "users": len(matrix), "reference": "numpy float64 fold-in"},
        "training_seconds": round(seconds, 1),
        "split": f"leave one title out per user with >= 2 interactions (seed {config['leave_one_out_seed']}); "
        "every unseen title ranked",
    }
    training = {
        "config": config,
        "chosen": {s: evaluation[s]["ials_config"] for s in SETTINGS},
        "validation": {s: evaluation[s]["ials_validation"] for s in SETTINGS},
        "served": asdict(served),
        "users": int(matrix.shape[0]),
        "titles": len(titles),
        "interactions": int((~np.isnan(matrix)).sum()),
        "device": "cpu",
        "framework": "numpy implicit ALS, exported by training/books/export.py",
    }
    data = provenance or BOOK_CROSSING.provenance()
    sidecars = {"catalog": catalog}
    entry = write_model(  # the page reads this entry as a BooksCard: a drift fails the build, not the page
        models_dir,
        MODEL_KEY,
        recommender,
        metrics=metrics,
        training=training,
        data=data,
        sidecars=sidecars,
        card=CARD,
        card_type=BooksCard,
    )
    similar_metrics = {"factors_from": MODEL_KEY}
    write_model(
        models_dir, SIMILAR_KEY, similar, metrics=similar_metrics, training=training, data=data, card=SIMILAR_CARD
    )
    return entry


CARD = {
    "title": "Book recommender",
    "summary": "Implicit ALS on Book-Crossing readers; a new reader is folded in and ranked in one ONNX call.",
    "anchors": [{"name": "CampusX tutorial: item-item cosine on the title x user rating pivot", "model": "item_item"}],
}
SIMILAR_CARD = {
    "title": "Similar books",
    "summary": "Cosine similarity of the recommender's title factors.",
}
