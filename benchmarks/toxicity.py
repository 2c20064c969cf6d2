"""Toxicity: test figures through the served ONNX models, speed against sentence-transformers, memory added."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Row, median_ms, print_table
from services import toxicity
from services.registry import Registry
from services.settings import load_settings
from training.toxicity.data import davidson, olid
from training.toxicity.evaluate import evaluate, f1_drops

BATCH = 1000

# Run in a fresh interpreter so nothing else (torch, sklearn) counts: RSS before and after the demo's first use.
_MEMORY_PROBE = """
import json, sys
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
from services import toxicity
before, _ = rss()
texts = json.loads(sys.stdin.read())
toxicity.classify(texts[0])
toxicity.explain(texts[0])
toxicity.classify_many(texts)
after, peak = rss()
print(json.dumps({"before": before, "after": after, "peak": peak}))
"""


def run(data_dir: Path, repeats: int) -> None:
    settings = load_settings()
    registry = Registry(settings.models_dir, settings.providers)
    models = toxicity.load(registry)
    corpora = {c.name: c for c in (davidson(data_dir), olid(data_dir))}
    rows = _quality(registry, corpora, models.heads_model.entry["metrics"])
    rows += _speed(registry, list(corpora["davidson"].test.texts[:BATCH]), repeats)
    print_table(f"toxicity (provider {models.provider})", rows)


def _quality(registry: Registry, corpora: dict, recorded: dict) -> list[Row]:
    figures, int8 = {}, {}
    for name, corpus in corpora.items():
        batch = toxicity.classify_many(list(corpus.test.texts), fast=False, registry=registry)
        figures[name] = evaluate(corpus, batch.probabilities[name])
        batch = toxicity.classify_many(list(corpus.test.texts), fast=True, registry=registry)
        int8[name] = evaluate(corpus, batch.probabilities[name])
    drop = max(f1_drops(figures, int8).values())
    anchors, goals = recorded["anchors"], recorded["goals"]
    hate = figures["davidson"]["per_class"]["hate speech"]
    paper_hate_f1 = anchors["davidson_paper_hate_f1"]
    frozen = recorded["frozen"]
    regression = recorded["regression"]
    return [
        Row("Davidson test weighted F1", f"{figures['davidson']['weighted_f1']:.4f}",
            f">= {goals['davidson_weighted_f1']} (paper 0.90)", figures["davidson"]["weighted_f1"] >= 0.91),
        Row("Davidson test macro F1", f"{figures['davidson']['macro_f1']:.4f}"),
        Row("Davidson hate precision / recall", f"{hate['precision']:.3f} / {hate['recall']:.3f}", "paper 0.44 / 0.61"),
        Row("Davidson hate F1", f"{hate['f1']:.4f}", f"> paper {paper_hate_f1:.3f}", hate["f1"] > paper_hate_f1),
        Row("OLID test macro F1 (fine-tuned, served)", f"{figures['olid']['macro_f1']:.4f}",
            f">= {goals['olid_macro_f1_finetuned']} (winner 0.829)",
            figures["olid"]["macro_f1"] >= goals["olid_macro_f1_finetuned"]),
        Row("OLID test macro F1 (frozen encoder + LR)", f"{frozen['olid']['macro_f1']:.4f}",
            f">= {goals['olid_macro_f1_frozen']}", frozen["olid"]["macro_f1"] >= goals["olid_macro_f1_frozen"]),
        Row("Davidson weighted F1 / hate F1 (frozen)",
            f"{frozen['davidson']['weighted_f1']:.4f} / {frozen['davidson']['per_class']['hate speech']['f1']:.4f}"),
        Row("hand-written sentences right (OLID / Davidson head)",
            f"{regression['olid_correct']} / {regression['davidson_correct']} of {regression['total']}"),
        Row("int8 encoder: Davidson weighted F1 / OLID macro F1",
            f"{int8['davidson']['weighted_f1']:.4f} / {int8['olid']['macro_f1']:.4f}"),
        Row("int8 encoder: largest F1 drop vs fp32", f"{drop * 100:.2f} pt", "<= 0.5 pt to ship", drop <= 0.005),
        Row("int8 encoder shipped", "yes" if recorded["int8"]["within_tolerance"] else "no"),
        Row("export parity (min cosine, recorded at export)",
            f"{registry.entry(toxicity.ENCODER_KEY)['metrics']['parity_min_cosine']:.7f}", ">= 0.9999",
            registry.entry(toxicity.ENCODER_KEY)["metrics"]["parity_min_cosine"] >= 0.9999),
    ]  # fmt: skip


def _speed(registry: Registry, texts: list[str], repeats: int) -> list[Row]:
    from training.toxicity.encoder import sentence_transformer

    models = toxicity.load(registry)
    one_ms = median_ms(lambda: toxicity.classify(texts[0], registry=registry), repeats=repeats)
    batch_repeats = max(3, min(repeats // 10, 7))
    batch_ms = median_ms(lambda: toxicity.classify_many(texts, registry=registry), repeats=batch_repeats, warmup=1)
    fp32_ms = median_ms(
        lambda: toxicity.classify_many(texts, fast=False, registry=registry), repeats=batch_repeats, warmup=1
    )
    onnx_ms = median_ms(lambda: models.encoder.encode(texts), repeats=batch_repeats, warmup=1)
    int8 = models.int8_encoder
    int8_ms = median_ms(lambda: int8.encode(texts), repeats=batch_repeats, warmup=1) if int8 else float("nan")
    reference = sentence_transformer()
    torch_ms = median_ms(lambda: reference.encode(texts, batch_size=32), repeats=batch_repeats, warmup=1)
    memory = _memory(texts)
    added, resident = memory["peak"] - memory["before"], memory["after"] - memory["before"]
    return [
        Row("one comment, end to end (median)", f"{one_ms:.1f} ms", "<= 15 ms", one_ms <= 15),
        Row(f"{len(texts):,} comments (Davidson test tweets), end to end, int8 encoder", f"{batch_ms / 1000:.2f} s",
            "<= 1.5 s", batch_ms <= 1500),
        Row(f"{len(texts):,} comments, end to end, fp32 encoder", f"{fp32_ms / 1000:.2f} s", "<= 1.5 s",
            fp32_ms <= 1500),
        Row(f"{len(texts):,} comments: sentence-transformers encode (torch)", f"{torch_ms / 1000:.2f} s"),
        Row(f"{len(texts):,} comments: ONNX fp32 encoder", f"{onnx_ms / 1000:.2f} s"),
        Row(f"{len(texts):,} comments: ONNX int8 encoder", f"{int8_ms / 1000:.2f} s"),
        Row("speed ratio vs sentence-transformers, fp32", f"{torch_ms / onnx_ms:.2f}x", ">= 1.8x",
            torch_ms / onnx_ms >= 1.8),
        Row("speed ratio vs sentence-transformers, int8", f"{torch_ms / int8_ms:.2f}x", ">= 1.8x",
            torch_ms / int8_ms >= 1.8),
        Row("memory added by the demo (peak RSS)", f"{added:.0f} MB", "<= 300 MB", added <= 300),
        Row("memory added by the demo (RSS after the batch)", f"{resident:.0f} MB"),
    ]  # fmt: skip


def _memory(texts: list[str]) -> dict[str, float]:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE], input=json.dumps(texts), capture_output=True, text=True,
        cwd=root, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])
