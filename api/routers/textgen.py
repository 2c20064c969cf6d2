"""Character-level generators: Shakespeare-like text (JSON, or streamed as Server-Sent Events) and dinosaur names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.common import answer, registry
from api.timing import service_time
from services import textgen
from services.registry import Registry

router = APIRouter(prefix="/v1/textgen", tags=["textgen"])
SSE_FLUSH_S = 0.05  # characters are sent in events at most this far apart


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field("", max_length=textgen.MAX_PROMPT_CHARS)
    model: Literal["shakespeare", "dinosaurs"] = "shakespeare"
    max_new_tokens: int = Field(500, ge=1, le=textgen.MAX_NEW_TOKENS, description="characters to write")
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, lt=2**31, description="the same seed gives the same text")
    stream: bool = Field(False, description="true: Server-Sent Events, a 'data' event per few characters, then 'done'")


class Generated(BaseModel):
    text: str  # the continuation, without the prompt
    seed: int
    notes: list[str]
    chars_per_second: float


class NamesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["sample", "beam"] = "sample"
    count: int = Field(10, ge=1, le=textgen.MAX_NAMES)
    prefix: str = Field("", max_length=textgen.MAX_NAME_CHARS)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, lt=2**31)
    beam_width: int = Field(16, ge=1, le=64, description="beam search only")


class NameOut(BaseModel):
    name: str
    probability: float
    in_training: bool


def _events(generation: textgen.Generation) -> Iterator[str]:
    pending, last = "", time.perf_counter()
    for ch in generation:
        pending += ch
        if time.perf_counter() - last >= SSE_FLUSH_S:
            yield f"data: {json.dumps({'text': pending})}\n\n"
            pending, last = "", time.perf_counter()
    if pending:
        yield f"data: {json.dumps({'text': pending})}\n\n"
    done = {
        "seed": generation.seed,
        "notes": list(generation.notes),
        "chars_per_second": round(generation.chars_per_second, 1),
    }
    yield f"event: done\ndata: {json.dumps(done)}\n\n"


@router.post(
    "/generate",
    response_model=Generated,
    summary="Continue a prompt, character by character",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def generate(request: GenerateRequest, reg: Annotated[Registry, Depends(registry)]):
    with service_time():  # preparing the prompt and writing the text, as textgen.generate does in-process
        generation = textgen.stream(
            request.prompt,
            model=request.model,
            max_new_tokens=request.max_new_tokens,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            seed=request.seed,
            registry=reg,
        )
        if request.stream:
            return StreamingResponse(
                _events(generation), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )
        text = "".join(generation)
    return answer(
        Generated(
            text=text,
            seed=generation.seed,
            notes=list(generation.notes),
            chars_per_second=round(generation.chars_per_second, 1),
        )
    )


@router.post("/names", response_model=list[NameOut], summary="Invent dinosaur names: sampled, or the likeliest")
def names(request: NamesRequest, reg: Annotated[Registry, Depends(registry)]) -> list[NameOut]:
    with service_time():
        found = _names(request, reg)
    return answer([NameOut(name=n.name, probability=n.probability, in_training=n.in_training) for n in found])


def _names(request: NamesRequest, reg: Registry) -> list[textgen.Name]:
    if request.method == "beam":
        return textgen.beam_names(request.prefix, beam_width=request.beam_width, count=request.count, registry=reg)
    return textgen.sample_names(
        request.count,
        prefix=request.prefix,
        temperature=request.temperature,
        top_k=request.top_k,
        top_p=request.top_p,
        seed=request.seed,
        registry=reg,
    )
