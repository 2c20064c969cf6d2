"""Toxic-comment classifier: MiniLM sentence embeddings (ONNX) -> two small heads (ONNX).

Heads: "olid" (OffensEval 2019 sub-task A: offensive or not) and "davidson" (Davidson et al. 2017: hate
speech / offensive / neither). A comment's toxicity score under a head is P(offensive) for OLID and
1 - P(neither) for Davidson; the decision is score >= threshold.
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tokenizers import Tokenizer

from services.cards import at, read_card
from services.errors import InvalidInputError, ModelUnavailableError
from services.inputs import MAX_TEXT_CHARS, read_text
from services.registry import LoadedModel, Registry, default_registry, rebuild_command
from services.text_encoder import MAX_TOKENS, TextEncoder
from services.timing import elapsed_ms, median_call_ms

ENCODER_KEY = "toxicity/encoder"
HEADS_KEY = "toxicity/heads"
INT8_KEY = "toxicity/encoder_int8"  # the same encoder quantised to int8: faster, used for batches
HEADS: Mapping[str, tuple[str, ...]] = {
    "olid": ("not offensive", "offensive"),
    "davidson": ("hate speech", "offensive", "neither"),
}
DEFAULT_HEAD = "olid"
MAX_BATCH = 5_000
MAX_EXPLAIN_WORDS = 60
EXPLAIN_TOKEN_BUDGET = MAX_EXPLAIN_WORDS * MAX_TOKENS  # the whole occlusion batch in one ONNX call

_MENTION = re.compile(r"@\w+")
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Classification:
    """One comment's scores under both heads and the decision under the chosen one."""

    text: str  # what the model read (normalised)
    head: str
    probabilities: Mapping[str, Mapping[str, float]]  # head -> label -> probability
    score: float  # toxicity under `head`
    threshold: float
    toxic: bool
    tokens: int
    truncated: bool
    notes: tuple[str, ...]
    timings_ms: Mapping[str, float]
    provider: str


@dataclass(frozen=True)
class BatchScores:
    """Scores of many comments: (N,) toxicity under `head` (NaN for empty rows) and per-head (N, labels)."""

    head: str
    scores: np.ndarray
    probabilities: Mapping[str, np.ndarray]
    truncated: np.ndarray  # (N,) bool
    empty: np.ndarray  # (N,) bool
    timings_ms: Mapping[str, float]
    precision: str  # "int8" or "fp32": which encoder ran

    def decisions(self, threshold: float) -> list[str]:
        """Per comment: "toxic", "not toxic", or "" for an empty one."""
        _check_options(self.head, threshold)
        return [
            "" if e else "toxic" if s >= threshold else "not toxic"
            for s, e in zip(self.scores, self.empty, strict=True)
        ]

    def notes(self) -> list[str]:
        """Per comment: "empty", "truncated" (longer than the 256 tokens the model reads) or ""."""
        return ["empty" if e else "truncated" if t else "" for e, t in zip(self.empty, self.truncated, strict=True)]

    def flagged(self, threshold: float) -> int:
        """How many comments score at or above the threshold (empty ones never do)."""
        return int((self.scores >= threshold).sum())

    def table(self, frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
        """The comments' frame (one row per score) with score, decision and note columns added."""
        return frame.assign(score=self.scores.round(4), decision=self.decisions(threshold), note=self.notes())


@dataclass(frozen=True)
class Explanation:
    """How much each word adds to the score: score(comment) - score(comment without that word)."""

    head: str
    words: tuple[str, ...]
    contributions: tuple[float, ...]
    score: float
    explained_all: bool  # False when only the first MAX_EXPLAIN_WORDS words were explained


@dataclass(frozen=True)
class Models:
    """The verified encoder and heads, and the encoder's tokenizer wrapped for batching."""

    encoder_model: LoadedModel
    heads_model: LoadedModel
    encoder: TextEncoder
    int8_model: LoadedModel | None  # None where the build measured int8 as too inaccurate and left it out
    int8_encoder: TextEncoder | None

    @property
    def provider(self) -> str:
        return self.encoder_model.provider


_CACHE: dict[tuple[str, str, str, int, int], Models] = {}


def normalise(text: str) -> str:
    """The text as the heads were trained on it: HTML entities decoded, @mentions -> @USER, links -> URL
    (OLID's own conventions, applied to Davidson too), runs of whitespace -> one space."""
    text = html.unescape(text)
    text = _LINK.sub("URL", text)
    text = _MENTION.sub("@USER", text)
    return " ".join(text.split())


def load(registry: Registry | None = None) -> Models:
    """The verified encoder (with its tokenizer) and heads.

    Raises:
        ModelUnavailableError: an artifact is missing or corrupt, or the heads were fitted on another encoder.
    """
    registry = registry or default_registry()
    encoder, heads = registry.load(ENCODER_KEY), registry.load(HEADS_KEY)
    # keyed by the loaded models themselves (the cached Models keeps them alive, so their ids stay unique): another
    # registry (another folder, or remote mode) never gets another's sessions
    key = (str(registry.models_dir), encoder.entry["sha256"], heads.entry["sha256"], id(encoder), id(heads))
    if key not in _CACHE:
        if heads.entry["metadata"].get("encoder_sha256") != encoder.entry["sha256"]:
            raise ModelUnavailableError(
                f"{HEADS_KEY} was fitted on another encoder than {ENCODER_KEY} "
                f"({heads.entry['metadata'].get('encoder_sha256', '?')[:12]}... != {encoder.entry['sha256'][:12]}...); "
                f"rebuild with `{rebuild_command(HEADS_KEY)}`."
            )
        tokenizer = Tokenizer.from_str(json.dumps(registry.sidecar(ENCODER_KEY, "tokenizer")))  # shared: same settings
        int8 = _int8_for(registry, encoder)
        _CACHE[key] = Models(
            encoder,
            heads,
            TextEncoder(encoder.session, tokenizer),
            int8,
            TextEncoder(int8.session, tokenizer) if int8 else None,
        )
    return _CACHE[key]


def _int8_for(registry: Registry, encoder: LoadedModel) -> LoadedModel | None:
    """The int8 encoder, if the build shipped one quantised from this very fp32 encoder (else batches use fp32)."""
    if INT8_KEY not in registry.manifest(INT8_KEY):
        return None
    int8 = registry.load(INT8_KEY)
    return int8 if int8.entry["metadata"].get("quantised_from") == encoder.entry["sha256"] else None


def classify(
    text: str, *, head: str = DEFAULT_HEAD, threshold: float = 0.5, registry: Registry | None = None
) -> Classification:
    """Score one comment under both heads and decide under `head`.

    Args:
        text: the comment (at most 10,000 characters; the model reads its first 256 tokens).
        head: "olid" (offensive or not) or "davidson" (hate speech / offensive / neither).
        threshold: the score from which a comment counts as toxic, 0 < threshold < 1.

    Raises:
        InvalidInputError: empty or over-long text, unknown head, threshold outside (0, 1).
        ModelUnavailableError: an artifact is missing or corrupt.
    """
    _check_options(head, threshold)
    clean = normalise(read_text(text))
    if not clean:
        raise InvalidInputError("The comment is empty: type or paste some text, or pick one of the examples.")
    models = load(registry)
    start = time.perf_counter()
    tokenized = models.encoder.tokenize([clean])
    timings = {"tokenize": elapsed_ms(start)}
    start = time.perf_counter()
    embedding = models.encoder.encode_ids(tokenized.ids)
    timings["encoder"] = elapsed_ms(start)
    start = time.perf_counter()
    probs = _heads(models, embedding)
    timings["heads"] = elapsed_ms(start)
    score = float(toxicity(head, probs)[0])
    return Classification(
        text=clean,
        head=head,
        probabilities={h: dict(zip(HEADS[h], map(float, p[0]), strict=True)) for h, p in probs.items()},
        score=score,
        threshold=threshold,
        toxic=score >= threshold,
        tokens=len(tokenized.ids[0]),
        truncated=tokenized.truncated[0],
        notes=_notes(clean, tokenized.truncated[0]),
        timings_ms=timings,
        provider=models.provider,
    )


def classify_many(
    texts: Sequence[str], *, head: str = DEFAULT_HEAD, fast: bool = True, registry: Registry | None = None
) -> BatchScores:
    """Score many comments (e.g. a CSV's text column); empty ones get NaN instead of an error.

    Args:
        fast: use the int8 encoder where it was shipped (its test F1s are within 0.5 points of fp32's).

    Raises:
        InvalidInputError: no texts, more than MAX_BATCH, a non-text value, or an unknown head.
    """
    _check_options(head, 0.5)
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise InvalidInputError("Give a list of comments (at least one).")
    if len(texts) > MAX_BATCH:
        raise InvalidInputError(f"{len(texts):,} comments; score at most {MAX_BATCH:,} at a time.")
    clean = [normalise(read_text(t, max_chars=MAX_TEXT_CHARS)) if isinstance(t, str) else None for t in texts]
    if any(c is None for c in clean):
        row = next(i for i, c in enumerate(clean) if c is None)
        raise InvalidInputError(f"Comment {row + 1} is not text ({type(texts[row]).__name__}).")
    models = load(registry)
    encoder = models.int8_encoder if fast and models.int8_encoder else models.encoder
    start = time.perf_counter()
    present = np.array([bool(c) for c in clean])
    tokenized = encoder.tokenize([c for c in clean if c])
    embedding = encoder.encode_ids(tokenized.ids) if tokenized.ids else np.zeros((0, 384), np.float32)
    timings = {"encoder": elapsed_ms(start)}
    probs = {h: np.full((len(clean), len(labels)), np.nan) for h, labels in HEADS.items()}
    if tokenized.ids:
        for name, values in _heads(models, embedding).items():
            probs[name][present] = values
    truncated = np.zeros(len(clean), bool)
    truncated[present] = tokenized.truncated
    precision = "int8" if encoder is models.int8_encoder else "fp32"
    return BatchScores(head, toxicity(head, probs), probs, truncated, ~present, timings, precision)


def explain(text: str, *, head: str = DEFAULT_HEAD, registry: Registry | None = None) -> Explanation:
    """Occlusion: the score drop when each word is left out, all variants in one encoder call.

    Raises:
        InvalidInputError: empty or over-long text, or an unknown head.
    """
    _check_options(head, 0.5)
    clean = normalise(read_text(text))
    if not clean:
        raise InvalidInputError("The comment is empty: there is nothing to explain.")
    words = clean.split(" ")
    shown = words[:MAX_EXPLAIN_WORDS]
    variants = [clean] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(shown))]
    models = load(registry)
    tokenized = models.encoder.tokenize(variants)
    embedding = models.encoder.encode_ids(tokenized.ids, token_budget=EXPLAIN_TOKEN_BUDGET)
    scores = toxicity(head, _heads(models, embedding))
    contributions = tuple(float(scores[0] - s) for s in scores[1:])
    return Explanation(head, tuple(shown), contributions, float(scores[0]), len(words) <= MAX_EXPLAIN_WORDS)


# ---- model card ----


@dataclass(frozen=True)
class HateFigures:
    """The hate-speech class's test figures on Davidson (the hard, rare class)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Figures:
    """One model's test figures on both corpora."""

    davidson_weighted_f1: float = at("davidson.weighted_f1")
    davidson_macro_f1: float = at("davidson.macro_f1")
    hate: HateFigures = at("davidson.per_class.hate speech")
    olid_macro_f1: float = at("olid.macro_f1")


@dataclass(frozen=True)
class Int8Figures(Figures):
    """The int8 encoder's test figures, and whether they were close enough to ship it."""

    within_tolerance: bool = at("within_tolerance")


@dataclass(frozen=True)
class Anchors:
    """Published figures: Davidson et al. 2017's logistic regression and the OffensEval 2019 winner."""

    davidson_paper_weighted_f1: float
    davidson_paper_hate_precision: float
    davidson_paper_hate_recall: float
    davidson_paper_hate_f1: float
    olid_winner_macro_f1: float


@dataclass(frozen=True)
class Goals:
    davidson_weighted_f1: float
    olid_macro_f1_frozen: float
    olid_macro_f1_finetuned: float


@dataclass(frozen=True)
class Sentence:
    """A hand-written sentence, whether it is offensive, and each head's score."""

    text: str
    offensive: bool
    olid: float
    davidson: float


@dataclass(frozen=True)
class Regression:
    sentences: tuple[Sentence, ...]
    olid_correct: int
    davidson_correct: int
    total: int


@dataclass(frozen=True)
class ToxicityHeadsCard:
    """What the heads' manifest entry says about quality (written by `python -m training toxicity`)."""

    served: Figures = at("metrics")  # first: the paths below extend this one's mapping
    frozen: Figures = at("metrics.frozen")
    int8: Int8Figures = at("metrics.int8")
    anchors: Anchors = at("metrics.anchors")
    goals: Goals = at("metrics.goals")
    regression: Regression = at("metrics.regression")


@dataclass(frozen=True)
class ToxicityEncoderCard:
    """How the fine-tuned encoder was trained and how closely its ONNX export follows PyTorch."""

    train_seconds: float = at("training.seconds")
    device: str = at("training.device")
    parity_min_cosine: float = at("metrics.parity_min_cosine")
    parity_texts: int = at("metrics.parity_texts")


@dataclass(frozen=True)
class ToxicityCard:
    """The About tab's figures: the heads' card and the encoder's."""

    heads: ToxicityHeadsCard
    encoder: ToxicityEncoderCard


def card(models: Models) -> ToxicityCard | None:
    """The model card of the loaded encoder and heads, read from their manifest entries.

    Returns:
        The card, or None where both were built without figures (an empty metrics record, as tiny test builds are).

    Raises:
        CardError: an entry lacks a figure the card needs (the message names its path and the rebuild command).
    """
    heads, encoder = models.heads_model.entry, models.encoder_model.entry
    if not heads.get("metrics") and not encoder.get("metrics"):
        return None
    return ToxicityCard(read_card(ToxicityHeadsCard, heads), read_card(ToxicityEncoderCard, encoder))


def toxicity(head: str, probabilities: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N,) toxicity under a head: P(offensive) for OLID, 1 - P(neither) for Davidson."""
    if head == "olid":
        return probabilities["olid"][:, 1]
    return 1.0 - probabilities["davidson"][:, 2]


def measure_latency(registry: Registry | None = None, *, repeats: int = 5) -> float:
    """Median milliseconds of one comment end to end, measured here."""
    return median_call_ms(lambda: classify("Have a lovely day, see you soon!", registry=registry), repeats=repeats)


def _heads(models: Models, embedding: np.ndarray) -> dict[str, np.ndarray]:
    return models.heads_model.run({"embedding": embedding})


def _check_options(head: str, threshold: float) -> None:
    if head not in HEADS:
        raise InvalidInputError(f"Unknown head {head!r}; choose one of: {', '.join(HEADS)}.")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise InvalidInputError(f"The threshold must be a number between 0 and 1 (exclusive); got {threshold!r}.")


def _notes(text: str, truncated: bool) -> tuple[str, ...]:
    """What the reader should know about how the model saw this text."""
    notes = []
    if truncated:
        notes.append(f"The comment is longer than {MAX_TOKENS} tokens: the model read only its beginning.")
    letters = [c for c in text if c.isalpha()]
    if not letters:
        notes.append("The comment has no letters (only emoji, digits or punctuation): the score rests on those alone.")
    elif sum(_latin(c) for c in letters) < len(letters) / 2:
        notes.append(
            "Most of the comment is not in the Latin alphabet: the heads were trained on English tweets, "
            "so the score is unreliable for other languages."
        )
    return tuple(notes)


def _latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")
