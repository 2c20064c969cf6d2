"""Character-level text generation: a Shakespeare GRU and a dinosaur-name GRU, each an ONNX single-step graph.

A step takes one character id per row and the recurrent state [rows, layers, hidden] and returns the next
character's logits and the new state, so each generated character costs one small step. Sampling (temperature,
top-k, top-p, seeded) runs in numpy; beam search expands every live hypothesis in one batched step.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from services.cards import at, read_card
from services.errors import InvalidInputError, ModelUnavailableError, NotFoundError
from services.inputs import read_text
from services.registry import LoadedModel, Registry, default_registry, rebuild_command

MODELS: Mapping[str, str] = {"shakespeare": "textgen/shakespeare", "dinosaurs": "textgen/dinosaurs"}
MAX_PROMPT_CHARS = 2_000
MAX_NEW_TOKENS = 5_000
MAX_NAME_CHARS = 30  # a dinosaur name longer than this is cut (the longest real one has 26 letters)
MIN_NAME_CHARS = 3  # the shortest real ones have 3 letters: an earlier end symbol is never picked
MAX_NAMES = 1_000
# Typographic characters a user may paste, and the plain characters the models know.
_PLAIN = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."}


@dataclass(frozen=True)
class CharModel:
    """A verified step graph with its vocabulary."""

    name: str
    loaded: LoadedModel
    symbols: tuple[str, ...]
    end: str | None  # the start/end symbol of a model that writes one item per line (dinosaur names)
    layers: int
    hidden: int
    training_hashes: frozenset[str] = frozenset()  # sha256 prefixes of the training names (not the names)
    index: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {ch: i for i, ch in enumerate(self.symbols)})

    def initial_state(self, rows: int = 1) -> np.ndarray:
        return np.zeros((rows, self.layers, self.hidden), np.float32)

    def step(self, tokens: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.loaded.session.run(None, {"token": tokens.astype(np.int32), "state": state})
        return out[0], out[1]

    def lower_case(self) -> bool:
        return not any(ch.isupper() for ch in self.symbols)

    def in_training(self, name: str) -> bool:
        return name_hash(name) in self.training_hashes


def name_hash(name: str) -> str:
    """What the model card keeps of a training name: a sha256 prefix, enough to say 'this one is real'."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


_CACHE: dict[tuple[str, str, int], CharModel] = {}


def load(model: str = "shakespeare", registry: Registry | None = None) -> CharModel:
    """The verified step graph and vocabulary of one generator.

    Raises:
        InvalidInputError: an unknown model name.
        ModelUnavailableError: the artifact is missing or corrupt.
    """
    if model not in MODELS:
        raise NotFoundError(f"Unknown generator {model!r}; choose one of {', '.join(MODELS)}.")
    registry = registry or default_registry()
    key = MODELS[model]
    loaded = registry.load(key)
    # keyed by the loaded model itself (the cached CharModel keeps it alive, so its id stays unique): another
    # registry (another folder, or remote mode) or a re-created session never gets another's cached model
    cache_key = (str(registry.models_dir), loaded.entry["sha256"], id(loaded))
    if cache_key not in _CACHE:
        vocabulary = registry.sidecar(key, "vocabulary")
        shape = loaded.session.get_inputs()[1].shape
        if len(shape) != 3 or not all(isinstance(n, int) for n in shape[1:]):
            raise ModelUnavailableError(
                f"{key} has an unexpected state input {shape}; rebuild with `{rebuild_command(key)}`."
            )
        _CACHE[cache_key] = CharModel(
            model,
            loaded,
            tuple(vocabulary["symbols"]),
            vocabulary.get("end"),
            shape[1],
            shape[2],
            frozenset(vocabulary.get("training_name_hashes", ())),
        )
    return _CACHE[cache_key]


# ---- input ----


@dataclass(frozen=True)
class Prompt:
    text: str  # what the model reads
    notes: tuple[str, ...]  # what was changed and why


def prepare_prompt(model: CharModel, prompt: str) -> Prompt:
    """Map the prompt onto the model's characters; characters it cannot read are dropped and named in a note."""
    prompt = read_text(prompt, max_chars=MAX_PROMPT_CHARS)
    notes: list[str] = []
    if model.lower_case() and prompt != prompt.lower():
        prompt = prompt.lower()
        notes.append("The dinosaur model only knows lower-case letters: the prompt was lower-cased.")
    out: list[str] = []
    unknown: dict[str, None] = {}
    for ch in prompt:
        if ch in model.index:
            out.append(ch)
            continue
        plain = _PLAIN.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        if plain and all(c in model.index for c in plain):
            out.append(plain)  # é -> e, ’ -> '
            notes.append(f"{ch!r} was read as {plain!r}.")
        else:
            unknown[ch] = None
    if unknown:
        shown = ", ".join(repr(ch) for ch in list(unknown)[:10]) + (" ..." if len(unknown) > 10 else "")
        notes.append(
            f"{len(unknown)} character(s) the {model.name} model never saw were left out: {shown}. "
            f"It knows {len(model.symbols)} characters: {''.join(s for s in model.symbols if s.isprintable())!r}."
        )
    return Prompt("".join(out), tuple(dict.fromkeys(notes)))


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 500
    temperature: float = 0.8  # 0 means greedy
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None

    def check(self, vocab_size: int) -> None:
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InvalidInputError(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS:,}.")
        if not isinstance(self.temperature, int | float) or not 0 <= self.temperature <= 2:
            raise InvalidInputError("temperature must be between 0 (always the likeliest character) and 2.")
        if self.top_k is not None and (not isinstance(self.top_k, int) or not 1 <= self.top_k <= vocab_size):
            raise InvalidInputError(f"top_k must be a whole number from 1 to {vocab_size} (or None for all).")
        if self.top_p is not None and (not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1):
            raise InvalidInputError("top_p must be above 0 and at most 1 (or None for no nucleus cut).")
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            raise InvalidInputError("seed must be a whole number >= 0 (or None for a random one).")


def next_token(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> int:
    """Pick the next character id from one row of logits."""
    if sampling.temperature == 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < len(scaled):
        cut = np.partition(scaled, -sampling.top_k)[-sampling.top_k]
        scaled = np.where(scaled >= cut, scaled, -np.inf)
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if sampling.top_p is not None and sampling.top_p < 1:
        order = np.argsort(-probs, kind="stable")
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), sampling.top_p)) + 1]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum(), side="right").clip(0, len(probs) - 1))


# ---- generation ----


class Generation:
    """A streaming generation: iterate for the new characters one by one; stats fill in as it runs.

    The same prompt, settings and seed give the same text.
    """

    def __init__(self, model: CharModel, prompt: Prompt, sampling: Sampling) -> None:
        self.model, self.prompt, self.sampling = model, prompt, sampling
        self.seed = sampling.seed if sampling.seed is not None else int(np.random.default_rng().integers(2**31))
        self.text = ""
        self.prompt_ms = 0.0
        self.generate_s = 0.0

    @property
    def notes(self) -> tuple[str, ...]:
        return self.prompt.notes

    @property
    def chars_per_second(self) -> float:
        return len(self.text) / self.generate_s if self.generate_s else 0.0

    def _prime(self, text: str, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = np.zeros((1, len(self.model.symbols)), np.float32)
        for ch in text:
            logits, state = self.model.step(np.array([self.model.index[ch]]), state)
        return logits, state

    def __iter__(self) -> Iterator[str]:
        model, rng = self.model, np.random.default_rng(self.seed)
        self.text, self.generate_s = "", 0.0  # iterating again starts over (and, seeded, writes the same text)
        start = time.perf_counter()
        # A names model starts each item from its end symbol; the Shakespeare model from a line break.
        lead = model.end if model.end is not None else "\n"
        logits, state = self._prime(lead + self.prompt.text, model.initial_state())
        self.prompt_ms = (time.perf_counter() - start) * 1000
        line = len(self.prompt.text)
        for _ in range(self.sampling.max_new_tokens):
            start = time.perf_counter()  # only the model's time counts, not the consumer's between characters
            if model.end is not None and line < MIN_NAME_CHARS:
                logits = _forbid(logits, model.index[model.end])
            token = next_token(logits[0], self.sampling, rng)
            ch = model.symbols[token]
            line = 0 if ch == "\n" else line + 1
            if model.end is not None and line > MAX_NAME_CHARS:
                token, ch, line = model.index[model.end], model.end, 0  # runaway name: end it
            self.text += ch
            self.generate_s += time.perf_counter() - start
            yield ch
            start = time.perf_counter()
            if model.end is not None and ch == model.end:
                state = model.initial_state()  # each name is sampled on its own, as in training
            logits, state = model.step(np.array([token]), state)
            self.generate_s += time.perf_counter() - start


def stream(
    prompt: str = "",
    *,
    model: str = "shakespeare",
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    registry: Registry | None = None,
) -> Generation:
    """Continue `prompt` character by character (iterate the result); see `generate` for the arguments.

    Raises:
        InvalidInputError: a bad prompt or setting, with what to change.
        ModelUnavailableError: the model is missing or corrupt.
    """
    char_model = load(model, registry)
    sampling = Sampling(max_new_tokens, temperature, top_k, top_p, seed)
    sampling.check(len(char_model.symbols))
    return Generation(char_model, prepare_prompt(char_model, prompt), sampling)


def generate(
    prompt: str = "",
    *,
    model: str = "shakespeare",
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    registry: Registry | None = None,
) -> str:
    """The continuation of `prompt` (without the prompt itself).

    Args:
        prompt: text to continue (up to 2,000 characters; unknown characters are dropped with a note, see
            `stream(...).notes`). For the dinosaur model, the start of a name.
        model: "shakespeare" or "dinosaurs" (names one per line).
        max_new_tokens: characters to write, 1 to 5,000.
        temperature: 0 (greedy) to 2; lower is safer, higher more inventive.
        top_k: sample among the k likeliest characters only.
        top_p: sample among the likeliest characters whose probabilities add up to top_p.
        seed: the same seed gives the same text.
    """
    return "".join(
        stream(
            prompt,
            model=model,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            registry=registry,
        )
    )


# ---- dinosaur names ----


@dataclass(frozen=True)
class Name:
    name: str
    log_prob: float  # natural log of the model's probability of the whole name, end symbol included
    in_training: bool

    @property
    def probability(self) -> float:
        return math.exp(self.log_prob)


def _names_model(registry: Registry | None) -> CharModel:
    model = load("dinosaurs", registry)
    if model.end is None:
        raise ModelUnavailableError(
            f"{MODELS['dinosaurs']} has no end symbol; rebuild with `python -m training textgen`."
        )
    return model


def _prefix(model: CharModel, prefix: str) -> Prompt:
    prompt = prepare_prompt(model, prefix)
    if model.end in prompt.text:
        raise InvalidInputError("A name prefix is one word: remove the line breaks.")
    if len(prompt.text) >= MAX_NAME_CHARS:
        raise InvalidInputError(f"A name prefix must be shorter than {MAX_NAME_CHARS} letters.")
    return prompt


def sample_names(
    count: int,
    *,
    prefix: str = "",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    registry: Registry | None = None,
) -> list[Name]:
    """`count` sampled names (each starting with prefix), all rows stepped together in one batch."""
    return names_from(_names_model(registry), count, prefix, Sampling(1, temperature, top_k, top_p, seed))


def names_from(model: CharModel, count: int, prefix: str, sampling: Sampling) -> list[Name]:
    """`sample_names` on a given model (the build measures novelty with it before the model is written)."""
    if not isinstance(count, int) or not 1 <= count <= MAX_NAMES:
        raise InvalidInputError(f"count must be a whole number from 1 to {MAX_NAMES:,}.")
    sampling.check(len(model.symbols))
    prompt = _prefix(model, prefix)
    rng = np.random.default_rng(sampling.seed)
    logits, state, prefix_log_prob = _read_prefix(model, prompt.text, count)
    log_probs = np.full(count, prefix_log_prob)
    texts = [prompt.text] * count
    live = np.ones(count, bool)
    steps = MAX_NAME_CHARS + 1 - len(prompt.text)
    for step in range(steps):
        logp = _log_softmax(logits)
        if len(prompt.text) + step < MIN_NAME_CHARS:
            logits = _forbid(logits, model.index[model.end])
        tokens = np.array(
            [next_token(row, sampling, rng) if alive else 0 for row, alive in zip(logits, live, strict=True)]
        )
        if step == steps - 1:
            tokens[live] = model.index[model.end]  # a runaway name ends at MAX_NAME_CHARS letters
        for i in np.flatnonzero(live):
            log_probs[i] += logp[i, tokens[i]]
            if tokens[i] == model.index[model.end]:
                live[i] = False
            else:
                texts[i] += model.symbols[tokens[i]]
        if not live.any():
            break
        logits, state = model.step(tokens, state)
    return [Name(t, float(lp), model.in_training(t)) for t, lp in zip(texts, log_probs, strict=True)]


def beam_names(
    prefix: str = "", *, beam_width: int = 16, count: int = 10, registry: Registry | None = None
) -> list[Name]:
    """The `count` most likely complete names that start with prefix (beam search, best first)."""
    return beam_from(_names_model(registry), prefix, beam_width, count)


def beam_from(model: CharModel, prefix: str, beam_width: int, count: int) -> list[Name]:
    """`beam_names` on a given model."""
    if not isinstance(beam_width, int) or not 1 <= beam_width <= 64:
        raise InvalidInputError("beam_width must be a whole number from 1 to 64.")
    if not isinstance(count, int) or not 1 <= count <= beam_width:
        raise InvalidInputError(f"count must be a whole number from 1 to beam_width ({beam_width}).")
    prompt = _prefix(model, prefix)
    end = model.index[model.end]
    logits, state, score = _read_prefix(model, prompt.text, 1)
    beams: list[tuple[str, float]] = [(prompt.text, score)]
    finished: list[tuple[str, float]] = []
    for length in range(len(prompt.text), MAX_NAME_CHARS + 1):
        logp = _log_softmax(logits)  # [beams, vocab]
        totals = np.array([s for _, s in beams])[:, None] + logp
        for b, (text, _) in enumerate(beams):
            if len(text) >= MIN_NAME_CHARS:
                finished.append((text, float(totals[b, end])))
        totals[:, end] = -np.inf
        if length == MAX_NAME_CHARS:
            break
        flat = np.argsort(-totals, axis=None, kind="stable")[:beam_width]
        rows, tokens = np.unravel_index(flat, totals.shape)
        finished.sort(key=lambda item: -item[1])
        worst_kept = finished[count - 1][1] if len(finished) >= count else -np.inf
        keep = totals[rows, tokens] > worst_kept  # a longer name can only lose probability
        if not keep.any():
            break
        rows, tokens = rows[keep], tokens[keep]
        beams = [(beams[r][0] + model.symbols[t], float(totals[r, t])) for r, t in zip(rows, tokens, strict=True)]
        logits, state = model.step(tokens, state[rows])
    finished.sort(key=lambda item: -item[1])
    return [Name(t, s, model.in_training(t)) for t, s in finished[:count]]


def _read_prefix(model: CharModel, prefix: str, rows: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Step `rows` copies of the start symbol and the prefix; returns the next logits, the state and
    log P(prefix | start)."""
    assert model.end is not None
    logits, state = model.step(np.full(rows, model.index[model.end]), model.initial_state(rows))
    log_prob = 0.0
    for ch in prefix:
        log_prob += float(_log_softmax(logits[:1])[0, model.index[ch]])
        logits, state = model.step(np.full(rows, model.index[ch]), state)
    return logits, state, log_prob


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _forbid(logits: np.ndarray, token: int) -> np.ndarray:
    out = logits.copy()
    out[..., token] = -np.inf
    return out


# ---- model card ----


@dataclass(frozen=True)
class Speed:
    """Build-time speed at batch 1: one step in microseconds (ONNX, Keras eager, Keras tf.function)."""

    onnx_us: float
    keras_eager_us: float
    keras_function_us: float
    ratio: float  # the faster Keras way's time over ONNX's
    sampling_chars_per_s: float


@dataclass(frozen=True)
class Recipe:
    """The Keras network and its training run."""

    layers: int = at("config.layers")
    hidden: int = at("config.hidden")
    embedding: int = at("config.embedding")
    dropout: float = at("config.dropout")
    train_minutes: float = at("train_minutes")
    device: str = at("device")
    epochs_run: int = at("epochs_run")
    best_epoch: int = at("best_epoch")
    export: str = at("export")


@dataclass(frozen=True)
class ShakespeareCard:
    """What the Shakespeare generator's manifest entry says (written by `python -m training textgen`)."""

    validation_loss_nats: float = at("metrics.validation_loss_nats")
    val_loss_goal: float = at("metrics.goals.shakespeare_val_loss_max")
    train_minutes_goal: int = at("metrics.goals.shakespeare_train_minutes_max")
    nanogpt_cpu: float = at("metrics.anchors.nanogpt_cpu")
    nanogpt_gpu: float = at("metrics.anchors.nanogpt_gpu")
    parity_max_abs_logit: float = at("metrics.parity_max_abs_logit")
    speed: Speed = at("metrics.speed")
    recipe: Recipe = at("training")


@dataclass(frozen=True)
class Novelty:
    """Sampled names against the training list."""

    samples: int
    novel_share: float
    unique_share: float
    name_like_share: float
    beam_top10: tuple[str, ...]


@dataclass(frozen=True)
class Cleaning:
    """How many lines of the course file each cleaning step touched."""

    split: int
    dropped_not_names: int
    lowercased: int
    dropped_repeats: int


@dataclass(frozen=True)
class DinosaursCard:
    """What the dinosaur-name generator's manifest entry says (written by `python -m training textgen`)."""

    validation_loss_nats: float = at("metrics.validation_loss_nats")
    train_loss_nats: float = at("metrics.train_loss_nats")
    novel_share_goal: float = at("metrics.goals.names_novel_share_min")
    novelty: Novelty = at("metrics.novelty")
    cleaning: Cleaning = at("metrics.cleaning")
    names_train: int = at("metrics.names.train")
    names_validation: int = at("metrics.names.validation")


@dataclass(frozen=True)
class TextgenCard:
    """The About tab's figures: one card per generator, each read from its own manifest entry."""

    shakespeare: ShakespeareCard
    dinosaurs: DinosaursCard


def card(shakespeare: CharModel, dinosaurs: CharModel) -> TextgenCard | None:
    """The model card of both loaded generators.

    Returns:
        The card, or None where both were built without figures (an empty metrics record, as tiny test builds are).

    Raises:
        CardError: an entry lacks a figure the card needs (the message names its path and the rebuild command).
    """
    entries = shakespeare.loaded.entry, dinosaurs.loaded.entry
    if not any(entry.get("metrics") for entry in entries):
        return None
    return TextgenCard(read_card(ShakespeareCard, entries[0]), read_card(DinosaursCard, entries[1]))
