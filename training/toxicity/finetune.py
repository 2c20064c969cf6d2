"""Fine-tune the MiniLM encoder on both corpora at once (torch, CPU or GPU).

One shared encoder (BERT -> mean pooling -> L2 normalisation, exactly the exported graph) with two linear
heads, Davidson 3-class and OLID binary; each batch comes from one corpus and trains the encoder and that
corpus's head. Davidson's classes are weighted by 1/sqrt(frequency) so the rare hate class is not drowned out.
Validation figures (never the test sets) are logged after every epoch; weights are written as safetensors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from training.toxicity.data import Corpus, Split
from training.toxicity.encoder import _pooled_module, sentence_transformer, source_dir

log = logging.getLogger(__name__)
HEAD_SCALE = 16.0  # unit-length embeddings times a fixed scale: logits of a useful size from the first step


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 2
    batch_size: int = 32
    max_tokens: int = 96  # tweets: 99.9% are shorter; training only (the service keeps 256)
    encoder_lr: float = 5e-5
    head_lr: float = 2e-3
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    seed: int = 0


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _tokenizer(max_tokens: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a password
    return tokenizer


def _batches(corpora: list[Corpus], config: FinetuneConfig, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """(corpus index, row indices) for one epoch: each corpus shuffled into batches, batch order shuffled."""
    batches = []
    for which, corpus in enumerate(corpora):
        order = rng.permutation(len(corpus.train.texts))
        batches += [(which, order[i : i + config.batch_size]) for i in range(0, len(order), config.batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class _Model:
    """Encoder + heads as plain attributes (torch modules are created lazily, so importing this file is cheap)."""

    def __init__(self, corpora: list[Corpus]) -> None:
        import torch

        self.encoder = _pooled_module(sentence_transformer())
        self.heads = torch.nn.ModuleList(torch.nn.Linear(384, len(c.labels)) for c in corpora)

    def logits(self, which: int, ids, mask):
        return self.heads[which](HEAD_SCALE * self.encoder(ids, mask))


def _class_weights(split: Split, classes: int):
    import torch

    counts = np.bincount(split.labels, minlength=classes).astype(np.float64)
    weights = 1 / np.sqrt(counts)
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def finetune(corpora: list[Corpus], config: FinetuneConfig, out_dir: Path) -> dict[str, object]:
    """Train; writes out_dir/encoder.safetensors and returns the log of validation figures and timings."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = _device()
    model = _Model(corpora)
    model.encoder.to(device).train()
    model.heads.to(device).train()
    optimiser = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": config.encoder_lr},
            {"params": model.heads.parameters(), "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    steps = config.epochs * len(_batches(corpora, config, np.random.default_rng(0)))
    warmup = max(1, int(config.warmup_share * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    losses = [torch.nn.CrossEntropyLoss(weight=_class_weights(corpora[0].train, 3).to(device))]
    losses += [torch.nn.CrossEntropyLoss() for _ in corpora[1:]]
    tokenizer = _tokenizer(config.max_tokens)
    history, start = [], time.perf_counter()
    for epoch in range(config.epochs):
        for step, (which, rows) in enumerate(_batches(corpora, config, rng)):
            encoded = tokenizer.encode_batch([corpora[which].train.texts[i] for i in rows])
            ids = torch.tensor([e.ids for e in encoded], device=device)
            labels = torch.tensor(corpora[which].train.labels[rows], device=device)
            loss = losses[which](model.logits(which, ids, (ids != 0).long()), labels)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.encoder.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            if step % 100 == 0:
                log.info("epoch %d step %d loss %.4f (%.0f s)", epoch, step, loss.item(), time.perf_counter() - start)
        figures = _validate(model, corpora, tokenizer, device)
        history.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - start), **figures})
        log.info("validation after epoch %d: %s", epoch + 1, history[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.encoder.bert.state_dict().items()}
    save_file(state, str(out_dir / "encoder.safetensors"))
    return {
        "config": asdict(config),
        "device": str(device),
        "seconds": round(time.perf_counter() - start),
        "history": history,
    }


def _validate(model: _Model, corpora: list[Corpus], tokenizer, device) -> dict[str, float]:
    import torch

    model.encoder.eval()
    figures = {}
    with torch.no_grad():
        for which, corpus in enumerate(corpora):
            predicted = []
            for i in range(0, len(corpus.valid.texts), 128):
                encoded = tokenizer.encode_batch(list(corpus.valid.texts[i : i + 128]))
                ids = torch.tensor([e.ids for e in encoded], device=device)
                predicted.append(model.logits(which, ids, (ids != 0).long()).argmax(1).cpu().numpy())
            labels, guess = corpus.valid.labels, np.concatenate(predicted)
            figures[f"{corpus.name}_macro_f1"] = round(float(f1_score(labels, guess, average="macro")), 4)
            figures[f"{corpus.name}_weighted_f1"] = round(float(f1_score(labels, guess, average="weighted")), 4)
    model.encoder.train()
    return figures


def load_weights(reference, path: Path) -> None:
    """Put fine-tuned weights into a SentenceTransformer's BERT (the parity reference of the export)."""
    from safetensors.torch import load_file

    reference[0].auto_model.load_state_dict(load_file(str(path)))
