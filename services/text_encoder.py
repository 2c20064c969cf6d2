"""Sentence embeddings with onnxruntime + the tokenizers library (no torch, no transformers at run time).

Texts are tokenized with the encoder's own WordPiece tokenizer (tokenizer.json), truncated to 256 tokens as
sentence-transformers does, sorted by length and run in batches under a token budget, so short comments are
not padded to the longest one and a batch of long texts cannot exhaust memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from services.registry import run_session

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
TOKEN_BUDGET = 4096  # padded tokens per ONNX call: bounds the (B, 12, T, T) attention memory
MAX_BATCH = 128


@dataclass(frozen=True)
class Tokenized:
    """Token ids of each text (with [CLS]/[SEP]) and whether it was cut at MAX_TOKENS."""

    ids: tuple[np.ndarray, ...]
    truncated: tuple[bool, ...]


class TextEncoder:
    """Texts -> (N, 384) float32 unit vectors through one ONNX session."""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

    def tokenize(self, texts: Sequence[str]) -> Tokenized:
        encodings: list[Encoding] = self.tokenizer.encode_batch(list(texts))
        return Tokenized(
            ids=tuple(np.asarray(e.ids, dtype=np.int64) for e in encodings),
            truncated=tuple(bool(e.overflowing) for e in encodings),
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings, (N, 384) float32, in the order of texts."""
        return self.encode_ids(self.tokenize(texts).ids)

    def encode_ids(self, ids: Sequence[np.ndarray], *, token_budget: int = TOKEN_BUDGET) -> np.ndarray:
        """Embeddings of already tokenized texts; token_budget bounds the padded tokens of one ONNX call."""
        order = np.argsort([len(row) for row in ids], kind="stable")
        result = np.zeros((len(ids), 384), np.float32)
        for batch in _batches([len(ids[i]) for i in order], token_budget):
            rows = order[batch]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.zeros((len(rows), width), np.int64)  # (B, T), pad id 0
            for j, i in enumerate(rows):
                input_ids[j, : len(ids[i])] = ids[i]
            feeds = {"input_ids": input_ids, "attention_mask": (input_ids != 0).astype(np.int64)}
            result[rows] = run_session(self.session, feeds)["embedding"]
        return result


def _batches(sorted_lengths: Sequence[int], token_budget: int) -> list[slice]:
    """Slices of the length-sorted texts whose padded size stays within token_budget."""
    slices, start = [], 0
    for end in range(1, len(sorted_lengths) + 1):
        padded = sorted_lengths[end - 1] * (end - start)
        if end - start > 1 and (padded > token_budget or end - start > max(MAX_BATCH, token_budget // MAX_TOKENS)):
            slices.append(slice(start, end - 1))
            start = end - 1
    if start < len(sorted_lengths):
        slices.append(slice(start, len(sorted_lengths)))
    return slices
