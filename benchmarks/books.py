"""Books: leave-one-out quality of every model (iALS through its ONNX graph), and recommendation latency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from benchmarks.common import Row, median_ms, print_table
from services import books
from services.registry import LoadedModel, Registry
from services.settings import load_settings
from training.books import recsys
from training.books.build import CONFIG, SETTINGS, evaluate_setting, load_ratings, rating_matrix, setting_matrix
from training.books.export import parity, title_factors


def run(data_dir: Path, repeats: int) -> None:
    settings = load_settings()
    registry = Registry(settings.models_dir, settings.providers)
    loaded = books.load(registry)
    matrix, _ = rating_matrix(load_ratings(data_dir))
    chosen = loaded.entry["training"]["chosen"]
    print("re-running the leave-one-out evaluation with the committed model's hyper-parameters...")
    rows = []
    for setting in SETTINGS:
        ials = recsys.IalsConfig(**chosen[setting])
        models = evaluate_setting(setting_matrix(matrix, setting), CONFIG, ials)["models"]
        ratio = models["ials"]["hr@10"] / models["popularity"]["hr@10"]
        rows += [Row(f"{setting}: {name} HR@10 / NDCG@10", _pair(m)) for name, m in models.items()]
        rows.append(Row(f"{setting}: iALS HR@10 vs popularity", f"{ratio:.2f}x", ">= 1.5x", ratio >= 1.5))
        beat = models["ials"]["hr@10"] > models["item_item"]["hr@10"]
        rows.append(Row(f"{setting}: iALS HR@10 vs item-item", _gap(models), "> item-item", beat))
    rows += _parity_and_speed(registry, loaded, matrix, repeats)
    print_table(f"books: {matrix.shape[0]} readers x {matrix.shape[1]} titles (provider {loaded.provider})", rows)


def _pair(measured: dict[str, float]) -> str:
    return f"{measured['hr@10']:.3f} / {measured['ndcg@10']:.3f}"


def _gap(models: dict[str, dict[str, float]]) -> str:
    low, high = models["ials"]["hr@10_minus_item_item_ci95"]
    return f"{models['ials']['hr@10'] - models['item_item']['hr@10']:+.3f} (95% CI {low:+.3f} to {high:+.3f})"


def _parity_and_speed(registry: Registry, loaded: LoadedModel, matrix: np.ndarray, repeats: int) -> list[Row]:
    model = onnx.load(registry.path(books.MODEL_KEY))
    items = title_factors(model)
    served = recsys.IalsConfig(**loaded.entry["training"]["served"])
    _, diff = parity(model, matrix, items, served)
    picks = {book.title: 9 for book in books.popular(top_k=3, registry=registry)}
    vector = np.full((1, matrix.shape[1]), np.nan)
    vector[0, [books.catalog(registry).by_title[t] for t in picks]] = 9
    onnx_ms = median_ms(lambda: books.recommend(picks, registry=registry), repeats=repeats)
    numpy_ms = median_ms(lambda: np.argsort(-recsys.ials_scores(vector, items, served)[0])[:10], repeats=repeats)
    title = next(iter(picks))
    similar_ms = median_ms(lambda: books.similar(title, registry=registry), repeats=repeats)
    return [
        Row("parity max |ONNX - numpy| score", f"{diff:.2e}", "< 1e-3", diff < 1e-3),
        Row("artifact size (recommender)", f"{loaded.entry['size'] / 1e3:.0f} kB"),
        Row("recommend, one reader: ONNX end to end", f"{onnx_ms:.3f} ms", "<= 5 ms", onnx_ms <= 5),
        Row("recommend, one reader: numpy fold-in + sort", f"{numpy_ms:.3f} ms"),
        Row("recommend: speed ratio vs numpy", f"{numpy_ms / onnx_ms:.1f}x"),
        Row("similar titles, one title: ONNX end to end", f"{similar_ms:.3f} ms"),
    ]
