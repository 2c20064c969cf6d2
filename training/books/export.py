"""The recommender's ONNX graphs: fold a new reader into implicit ALS and rank (one call), and similar titles.

recommender.onnx
  ratings (batch, titles) float32: NaN = not picked, 0 = read without a rating, 1-10 = rating
  top_k (1,) int64
  -> titles (batch, top_k) int64, scores (batch, top_k) float32 (picked titles rank last at -inf),
     because (batch, top_k) int64: the picked title that adds the most to each recommendation's score.
similar.onnx
  title (batch,) int64, top_k (1,) int64 -> titles (batch, top_k) int64, scores (batch, top_k) float32 (cosine).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

from services.books import DISLIKE_MAX
from training.books import recsys
from training.common.onnx_graph import MS_DOMAIN, GraphBuilder

PARITY_ATOL = 1e-3  # scores are O(1); float32 inverse of a (factors x factors) system
FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


def recommender_graph(items: np.ndarray, config: recsys.IalsConfig, *, metadata: dict[str, str]) -> onnx.ModelProto:
    """The iALS fold-in of recsys.fold_in, densely: A = Y'Y + reg I + Y' W Y, u = A^-1 Y'(1 + W)p, scores = Y u."""
    n_titles, factors = items.shape
    g = GraphBuilder("books_recommender")
    ratings = g.input("ratings", FLOAT, ["batch", n_titles])
    top_k = g.input("top_k", INT64, [1])
    y = g.const(items.astype(np.float32), "title_factors")  # (N, F)
    y_t = g.const(items.T.astype(np.float32), "title_factors_t")  # (F, N)
    gram = g.const((items.T @ items + config.reg * np.eye(factors)).astype(np.float32), "gram")
    zero, one = g.const(np.float32(0.0)), g.const(np.float32(1.0))
    seen = g.op("Not", [g.op("IsNaN", [ratings])])
    value = g.op("Where", [seen, ratings, zero])  # (B, N)
    rated = g.op("Greater", [value, zero])
    disliked = g.op("And", [rated, g.op("LessOrEqual", [value, g.const(np.float32(DISLIKE_MAX))])])
    liked = g.op("And", [seen, g.op("Not", [disliked])])  # read, or rated above DISLIKE_MAX
    boost = g.op("Add", [one, g.op("Mul", [value, g.const(np.float32(config.explicit_boost / 10.0))])])
    weight = g.op("Where", [liked, g.op("Mul", [boost, g.const(np.float32(config.alpha))]), zero])  # (B, N)
    target = g.op("Where", [liked, g.op("Add", [weight, one]), zero])  # (1 + W) p
    weighted_y = g.op("Mul", [g.op("Unsqueeze", [weight, g.const(np.array([2]))]), y])  # (B, N, F)
    system = g.op("Add", [gram, g.op("MatMul", [y_t, weighted_y])])  # (B, F, F)
    inverse = g.op("Inverse", [system], domain=MS_DOMAIN)
    rhs = g.op("MatMul", [target, y])  # (B, F)
    axis2 = g.const(np.array([2]))
    user = g.op("Squeeze", [g.op("MatMul", [inverse, g.op("Unsqueeze", [rhs, axis2])]), axis2])  # (B, F)
    scores = g.op("Where", [seen, g.const(np.float32(-np.inf)), g.op("MatMul", [user, y_t])])
    top_scores, top_titles = g.op_multi("TopK", [scores, top_k], 2, axis=1, largest=1, sorted=1)
    # Each picked title's share of a recommendation's score: y_j A^-1 y_i (1 + w_i), over liked titles i.
    top_y = g.op("Gather", [y, top_titles], axis=0)  # (B, K, F)
    share = g.op("MatMul", [g.op("MatMul", [top_y, inverse]), y_t])  # (B, K, N)
    share = g.op("Mul", [share, g.op("Unsqueeze", [target, g.const(np.array([1]))])])
    liked_k = g.op("Unsqueeze", [liked, g.const(np.array([1]))])
    because = g.op("ArgMax", [g.op("Where", [liked_k, share, g.const(np.float32(-np.inf))])], axis=2, keepdims=0)
    g.output(top_titles, "titles", INT64, ["batch", "top_k"])
    g.output(top_scores, "scores", FLOAT, ["batch", "top_k"])
    g.output(because, "because", INT64, ["batch", "top_k"])
    return g.model(metadata)


def similar_graph(items: np.ndarray, *, metadata: dict[str, str]) -> onnx.ModelProto:
    """Cosine similarity of title factors; the title itself ranks last."""
    n_titles, _ = items.shape
    norms = np.linalg.norm(items, axis=1, keepdims=True)
    unit = (items / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    g = GraphBuilder("books_similar")
    title = g.input("title", INT64, ["batch"])
    top_k = g.input("top_k", INT64, [1])
    query = g.op("Gather", [g.const(unit, "unit_factors"), title], axis=0)  # (B, F)
    cosine = g.op("MatMul", [query, g.const(unit.T.copy(), "unit_factors_t")])  # (B, N)
    itself = g.op("Equal", [g.op("Unsqueeze", [title, g.const(np.array([1]))]), g.const(np.arange(n_titles))])
    cosine = g.op("Where", [itself, g.const(np.float32(-np.inf)), cosine])
    top_scores, top_titles = g.op_multi("TopK", [cosine, top_k], 2, axis=1, largest=1, sorted=1)
    g.output(top_titles, "titles", INT64, ["batch", "top_k"])
    g.output(top_scores, "scores", FLOAT, ["batch", "top_k"])
    return g.model(metadata)


def full_scores(model: onnx.ModelProto, ratings: np.ndarray, *, chunk: int = 64) -> np.ndarray:
    """Every title's score for each row of ratings, from the graph (top_k = all titles, scattered back)."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    n_titles = ratings.shape[1]
    out = np.empty(ratings.shape, np.float64)
    for start in range(0, len(ratings), chunk):
        feeds = {"ratings": ratings[start : start + chunk].astype(np.float32), "top_k": np.array([n_titles])}
        titles, scores, _ = session.run(["titles", "scores", "because"], feeds)
        np.put_along_axis(out[start : start + chunk], titles, scores, axis=1)
    return out


def parity(
    model: onnx.ModelProto, ratings: np.ndarray, items: np.ndarray, config: recsys.IalsConfig
) -> tuple[np.ndarray, float]:
    """Graph scores vs the float64 numpy fold-in on every unseen title; asserts PARITY_ATOL, returns (scores, max)."""
    served = full_scores(model, ratings)
    reference = recsys.ials_scores(ratings, items, config)
    unseen = np.isnan(ratings)
    diff = float(np.max(np.abs(served[unseen] - reference[unseen])))
    np.testing.assert_allclose(served[unseen], reference[unseen], rtol=0, atol=PARITY_ATOL)
    return served, diff


def title_factors(model: onnx.ModelProto) -> np.ndarray:
    """The (titles, factors) matrix a recommender graph was built from, as float64."""
    for tensor in model.graph.initializer:
        if tensor.name.rsplit("_", 1)[0] == "title_factors":
            return numpy_helper.to_array(tensor).astype(np.float64)
    raise ValueError("not a recommender graph: no title_factors initializer")
