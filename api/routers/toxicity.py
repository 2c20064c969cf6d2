"""Toxic-comment classifier: score one comment or many, and explain one word by word."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.common import answer, registry
from api.timing import service_time
from services import toxicity
from services.registry import Registry

router = APIRouter(prefix="/v1/toxicity", tags=["toxicity"])
Head = Annotated[str, Field(description=" or ".join(toxicity.HEADS))]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(min_length=1, max_length=toxicity.MAX_BATCH, description="one comment or many")
    head: Head = toxicity.DEFAULT_HEAD
    threshold: float = Field(0.5, gt=0.0, lt=1.0)


class Scored(BaseModel):
    text: str
    score: float | None  # toxicity under the chosen head; null for an empty comment in a batch
    toxic: bool | None
    probabilities: dict[str, dict[str, float | None]]  # head -> label -> probability
    truncated: bool
    notes: list[str] = []


class ClassifyResponse(BaseModel):
    head: str
    threshold: float
    encoder: str  # fp32 for one comment (as on the page), int8 for a batch (as the page's CSV scoring)
    results: list[Scored]
    ms: float


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    head: Head = toxicity.DEFAULT_HEAD


class Word(BaseModel):
    word: str
    contribution: float  # score(comment) - score(comment without this word)


class ExplainResponse(BaseModel):
    head: str
    score: float
    words: list[Word]
    explained_all: bool


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


@router.post("/classify", response_model=ClassifyResponse, summary="Probability that each comment is offensive")
def classify(request: ClassifyRequest, reg: Annotated[Registry, Depends(registry)]) -> ClassifyResponse:
    if len(request.texts) == 1:
        with service_time():
            one = toxicity.classify(request.texts[0], head=request.head, threshold=request.threshold, registry=reg)
        scored = Scored(
            text=one.text,
            score=round(one.score, 6),
            toxic=one.toxic,
            truncated=one.truncated,
            probabilities={h: {k: round(v, 6) for k, v in p.items()} for h, p in one.probabilities.items()},
            notes=list(one.notes),
        )
        return answer(
            ClassifyResponse(
                head=one.head,
                threshold=one.threshold,
                encoder="fp32",
                results=[scored],
                ms=round(sum(one.timings_ms.values()), 3),
            )
        )
    with service_time():
        batch = toxicity.classify_many(request.texts, head=request.head, registry=reg)
    decisions = batch.decisions(request.threshold)
    results = [
        Scored(
            text=text,
            score=_number(batch.scores[i]),
            toxic=None if batch.empty[i] else decisions[i] == "toxic",
            probabilities={
                h: {label: _number(batch.probabilities[h][i][j]) for j, label in enumerate(labels)}
                for h, labels in toxicity.HEADS.items()
            },
            truncated=bool(batch.truncated[i]),
        )
        for i, text in enumerate(request.texts)
    ]
    return answer(
        ClassifyResponse(
            head=batch.head,
            threshold=request.threshold,
            encoder=batch.precision,
            results=results,
            ms=round(sum(batch.timings_ms.values()), 3),
        )
    )


@router.post("/explain", response_model=ExplainResponse, summary="How much each word adds to the score")
def explain(request: ExplainRequest, reg: Annotated[Registry, Depends(registry)]) -> ExplainResponse:
    with service_time():
        result = toxicity.explain(request.text, head=request.head, registry=reg)
    return answer(
        ExplainResponse(
            head=result.head,
            score=round(result.score, 6),
            words=[
                Word(word=w, contribution=round(c, 6)) for w, c in zip(result.words, result.contributions, strict=True)
            ],
            explained_all=result.explained_all,
        )
    )
