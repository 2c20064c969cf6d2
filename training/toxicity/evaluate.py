"""Test figures of the toxicity heads, the published anchors, and the hand-written regression sentences."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from services import toxicity as service
from training.toxicity.data import Corpus

# Published anchors and the goals (Davidson: the paper's logistic regression; OLID: OffensEval 2019).
_PAPER_HATE_PRECISION, _PAPER_HATE_RECALL = 0.44, 0.61
ANCHORS = {
    "davidson_paper_weighted_f1": 0.90,
    "davidson_paper_hate_recall": _PAPER_HATE_RECALL,
    "davidson_paper_hate_precision": _PAPER_HATE_PRECISION,
    "davidson_paper_hate_f1": round(
        2 * _PAPER_HATE_PRECISION * _PAPER_HATE_RECALL / (_PAPER_HATE_PRECISION + _PAPER_HATE_RECALL), 4
    ),
    "olid_winner_macro_f1": 0.829,
}
GOALS = {"davidson_weighted_f1": 0.91, "olid_macro_f1_frozen": 0.80, "olid_macro_f1_finetuned": 0.83}

# (sentence, is it offensive). Written for this project; the first is the one the original project kept failing.
REGRESSION_SENTENCES: tuple[tuple[str, bool], ...] = (
    ("Hate is everywhere but I don't hate you", False),
    ("I love this community, thank you all for the support", False),
    ("That exam absolutely destroyed me lol", False),
    ("I disagree with your argument about taxes, here is why", False),
    ("My grandmother makes the best apple pie in the world", False),
    ("The referee made a terrible call in the second half", False),
    ("Killing it at the gym today, feeling great", False),
    ("You are a worthless idiot and everyone knows it", True),
    ("Shut up you stupid bitch", True),
    ("Go to hell, you pathetic loser", True),
    ("Nobody wants you here, you disgusting moron", True),
    ("What a fucking joke this guy is", True),
)


def evaluate(corpus: Corpus, probabilities: np.ndarray) -> dict[str, Any]:
    """Test-split figures: weighted and macro F1, accuracy, per-class precision / recall / F1 and support."""
    labels, predicted = corpus.test.labels, probabilities.argmax(1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=range(len(corpus.labels)), zero_division=0
    )
    return {
        "split": f"{corpus.name} test ({len(labels)} tweets)",
        "weighted_f1": round(float(f1_score(labels, predicted, average="weighted")), 4),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro")), 4),
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "per_class": {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "n": int(n)}
            for name, p, r, f, n in zip(corpus.labels, precision, recall, f1, support, strict=True)
        },
    }


def f1_drops(fp32: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, float]:
    """How far another encoder's test F1s fall below fp32's (positive = worse)."""
    return {
        "davidson_weighted_f1": fp32["davidson"]["weighted_f1"] - other["davidson"]["weighted_f1"],
        "davidson_macro_f1": fp32["davidson"]["macro_f1"] - other["davidson"]["macro_f1"],
        "olid_macro_f1": fp32["olid"]["macro_f1"] - other["olid"]["macro_f1"],
    }


def regression(scores: Callable[[Sequence[str]], Mapping[str, np.ndarray]]) -> dict[str, Any]:
    """Each hand-written sentence's toxicity under both heads, and how many each head gets right at 0.5."""
    texts = [service.normalise(text) for text, _ in REGRESSION_SENTENCES]
    probs = scores(texts)
    result: dict[str, Any] = {"sentences": []}
    for head in service.HEADS:
        result[f"{head}_correct"] = 0
    for i, (text, offensive) in enumerate(REGRESSION_SENTENCES):
        row: dict[str, Any] = {"text": text, "offensive": offensive}
        for head in service.HEADS:
            score = float(service.toxicity(head, {k: v[i : i + 1] for k, v in probs.items()})[0])
            row[head] = round(score, 4)
            result[f"{head}_correct"] += int((score >= 0.5) == offensive)
        result["sentences"].append(row)
    result["total"] = len(REGRESSION_SENTENCES)
    return result
