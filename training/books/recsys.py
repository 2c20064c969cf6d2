"""Collaborative filtering on a dense (users x titles) rating matrix: baselines, learned models, leave-one-out metrics.

Rating matrices follow the Book-Crossing encoding: NaN = no interaction, 0 = read without a rating (implicit),
1-10 = an explicit rating. Every scorer takes training profiles (users x titles, same encoding) and returns scores
(users x titles, higher is better); already-seen titles are masked by the evaluation, not by the scorers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.books import DISLIKE_MAX


@dataclass(frozen=True)
class Split:
    """Leave-one-out: each evaluated user's training profile and the one title held out of it."""

    train: np.ndarray  # (users, titles) float64, NaN = unseen
    users: np.ndarray  # (n,) rows of `train` that are evaluated
    held_out: np.ndarray  # (n,) the held-out title of each evaluated user


def leave_one_out(ratings: np.ndarray, *, seed: int) -> Split:
    """Hold out one interacted title per user with at least two interactions (the rest stays in training)."""
    rng = np.random.default_rng(seed)
    train = ratings.copy()
    users, held = [], []
    for user in range(len(ratings)):
        seen = np.flatnonzero(~np.isnan(ratings[user]))
        if len(seen) < 2:
            continue
        title = int(rng.choice(seen))
        train[user, title] = np.nan
        users.append(user)
        held.append(title)
    return Split(train, np.array(users, np.int64), np.array(held, np.int64))


def ranks(scores: np.ndarray, split: Split) -> np.ndarray:
    """0-based rank of each held-out title among the titles its user has not seen (ties count in its favour)."""
    rows = scores[split.users].astype(np.float64)
    rows[~np.isnan(split.train[split.users])] = -np.inf
    target = rows[np.arange(len(split.users)), split.held_out]
    return (rows > target[:, None]).sum(axis=1)


def hit_rate_ndcg(scores: np.ndarray, split: Split, *, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k of the held-out titles, ranking every title the user has not seen in training."""
    return rank_metrics(ranks(scores, split), k=k)


def rank_metrics(rank: np.ndarray, *, k: int) -> dict[str, float]:
    """HR@k and NDCG@k from the held-out titles' 0-based ranks."""
    hit = rank < k
    return {
        f"hr@{k}": float(hit.mean()),
        f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean()),
        "users": len(rank),
    }


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, seed: int, samples: int = 2000) -> list[float]:
    """95% interval of mean(a - b) over users resampled with replacement (a, b: per-user values, same users)."""
    rng = np.random.default_rng(seed)
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    means = diff[rng.integers(0, len(diff), (samples, len(diff)))].mean(axis=1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def popularity(train: np.ndarray) -> np.ndarray:
    """Every user gets the titles with the most interactions in training."""
    counts = (~np.isnan(train)).sum(axis=0).astype(np.float64)
    return np.broadcast_to(counts, train.shape).copy()


def cosine_item_similarity(train: np.ndarray) -> np.ndarray:
    """Cosine similarity of title columns of the tutorial's pivot (ratings; unseen and implicit = 0)."""
    values = np.nan_to_num(train, nan=0.0)
    norms = np.linalg.norm(values, axis=0)
    norms[norms == 0] = 1.0
    unit = values / norms
    similarity = unit.T @ unit
    np.fill_diagonal(similarity, 0.0)
    return similarity


def item_item(train: np.ndarray) -> np.ndarray:
    """Score = sum over the user's titles of similarity x the user's rating of it."""
    return np.nan_to_num(train, nan=0.0) @ cosine_item_similarity(train)


def confidence(ratings: np.ndarray, *, alpha: float, explicit_boost: float) -> np.ndarray:
    """iALS confidence minus one: alpha x (1 + explicit_boost x rating/10) where read or liked, 0 elsewhere.

    A rating of DISLIKE_MAX or lower is a "not for me": the title counts as seen but adds no preference.
    """
    value = np.nan_to_num(ratings, nan=0.0)
    liked = ~np.isnan(ratings) & ~((value > 0) & (value <= DISLIKE_MAX))
    return np.where(liked, alpha * (1.0 + explicit_boost * value / 10.0), 0.0)


def fold_in(weights: np.ndarray, items: np.ndarray, reg: float) -> np.ndarray:
    """iALS user step for each row of weights (confidence - 1): solve (Y'Y + reg I + Y' W Y) x = Y' (1 + W) p.

    Rows are solved one by one over their few non-zero entries. This is also how a new user is scored at serving
    time (the ONNX graph does the same algebra, densely).
    """
    gram = items.T @ items + reg * np.eye(items.shape[1])
    out = np.zeros((len(weights), items.shape[1]))
    for row, values in enumerate(weights):
        seen = np.flatnonzero(values)
        if seen.size:
            ys, w = items[seen], values[seen]
            out[row] = np.linalg.solve(gram + (ys.T * w) @ ys, (1.0 + w) @ ys)
    return out


@dataclass(frozen=True)
class IalsConfig:
    factors: int = 64
    reg: float = 10.0
    alpha: float = 10.0
    explicit_boost: float = 1.0
    iterations: int = 12
    seed: int = 42


def ials_fit(train: np.ndarray, config: IalsConfig) -> np.ndarray:
    """Implicit ALS (Hu, Koren & Volinsky 2008) on every interaction; returns the title factors (titles, factors)."""
    rng = np.random.default_rng(config.seed)
    weights = confidence(train, alpha=config.alpha, explicit_boost=config.explicit_boost)
    items = rng.normal(0.0, 0.1, (train.shape[1], config.factors))
    for _ in range(config.iterations):
        users = fold_in(weights, items, config.reg)
        items = fold_in(weights.T, users, config.reg)
    return items


def ials_scores(train: np.ndarray, items: np.ndarray, config: IalsConfig) -> np.ndarray:
    weights = confidence(train, alpha=config.alpha, explicit_boost=config.explicit_boost)
    return fold_in(weights, items, config.reg) @ items.T


@dataclass(frozen=True)
class MfConfig:
    factors: int = 16
    reg: float = 5.0
    iterations: int = 15
    seed: int = 42


def mf_fit(train: np.ndarray, config: MfConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Explicit matrix factorisation as in the ML Specialization (rating ~ x_u.w_i + b_i + mean_i), by ALS.

    Only explicit ratings (1-10) are fitted; implicit zeros are ignored. Returns (item factors, item biases,
    item means).
    """
    rated = np.where(np.nan_to_num(train, nan=0.0) > 0, train, np.nan)
    means = np.nan_to_num(np.nanmean(rated, axis=0), nan=0.0)
    target = rated - means
    rng = np.random.default_rng(config.seed)
    items = np.hstack([rng.normal(0.0, 0.1, (train.shape[1], config.factors)), np.zeros((train.shape[1], 1))])
    for _ in range(config.iterations):
        users = _mf_users(target, items, config.reg)
        items = _ridge_rows(target.T, np.hstack([users, np.ones((len(users), 1))]), config.reg)
    return items[:, :-1], items[:, -1], means


def _mf_users(target: np.ndarray, items: np.ndarray, reg: float) -> np.ndarray:
    """User factors given item [w, b]: ridge fit of (rating - mean - b) on w."""
    return _ridge_rows(target - items[:, -1], items[:, :-1], reg)


def _ridge_rows(target: np.ndarray, design: np.ndarray, reg: float) -> np.ndarray:
    """For each row of target (NaN = missing), ridge-regress its observed entries on the matching design rows."""
    out = np.zeros((len(target), design.shape[1]))
    eye = reg * np.eye(design.shape[1])
    for row, values in enumerate(target):
        seen = np.flatnonzero(~np.isnan(values))
        if seen.size:
            xs = design[seen]
            out[row] = np.linalg.solve(xs.T @ xs + eye, values[seen] @ xs)
    return out


def mf_scores(train: np.ndarray, model: tuple[np.ndarray, np.ndarray, np.ndarray], config: MfConfig) -> np.ndarray:
    """Predicted ratings of every title for each user, the user fitted on their explicit ratings only."""
    items, bias, means = model
    rated = np.where(np.nan_to_num(train, nan=0.0) > 0, train, np.nan)
    users = _mf_users(rated - means, np.hstack([items, bias[:, None]]), config.reg)
    return users @ items.T + bias + means
