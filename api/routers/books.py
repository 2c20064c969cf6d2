"""Book recommender: search the catalog, recommend from a reader's ratings, or list similar titles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.common import answer, registry
from api.timing import service_time
from services import books
from services.registry import Registry

router = APIRouter(prefix="/v1/books", tags=["books"])
TopK = Annotated[int, Field(ge=1, le=books.MAX_TOP_K)]


class BookOut(BaseModel):
    title: str
    author: str
    isbn: str
    cover_urls: list[str]  # the recorded Amazon URL, then Open Library's by ISBN
    readers: int
    mean_rating: float

    @classmethod
    def of(cls, book: books.Book) -> BookOut:
        return cls(
            title=book.title,
            author=book.author,
            isbn=book.clean_isbn,
            cover_urls=list(book.cover_urls),
            readers=book.readers,
            mean_rating=round(book.mean_rating, 3),
        )


class Match(BaseModel):
    book: BookOut
    score: float


class Item(BaseModel):
    book: BookOut
    score: float
    because: str | None = None  # the rated title that adds most to this recommendation


class Ranked(BaseModel):
    items: list[Item]
    ms: float


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ratings: dict[str, int | None] = Field(
        min_length=1, max_length=books.MAX_PICKS, description="title -> rating 1-10, or null for 'read, no rating'"
    )
    top_k: TopK = 10


def _ranked(result: books.Ranked) -> Ranked:
    return answer(
        Ranked(
            items=[
                Item(
                    book=BookOut.of(i.book),
                    score=round(float(i.score), 5),
                    because=i.because.title if i.because else None,
                )
                for i in result.items
            ],
            ms=round(sum(result.timings_ms.values()), 3),
        )
    )


@router.get("/search", response_model=list[Match], summary="Catalog titles matching a query (typos allowed)")
def search(
    reg: Annotated[Registry, Depends(registry)],
    q: Annotated[str, Query(min_length=1, max_length=books.MAX_QUERY_CHARS)],
    top_k: Annotated[int, Query(ge=1, le=books.MAX_TOP_K)] = 8,
) -> list[Match]:
    with service_time():
        found = books.search(q, top_k=top_k, registry=reg)
    return answer([Match(book=BookOut.of(m.book), score=round(float(m.score), 5)) for m in found])


@router.post("/recommend", response_model=Ranked, summary="Recommendations for a reader's ratings, with reasons")
def recommend(request: RecommendRequest, reg: Annotated[Registry, Depends(registry)]) -> Ranked:
    with service_time():
        result = books.recommend(request.ratings, top_k=request.top_k, registry=reg)
    return _ranked(result)


@router.get("/similar", response_model=Ranked, summary="Titles read by the same readers as this one")
def similar(
    reg: Annotated[Registry, Depends(registry)],
    title: Annotated[str, Query(min_length=1, max_length=500)],
    top_k: Annotated[int, Query(ge=1, le=books.MAX_TOP_K)] = 10,
) -> Ranked:
    with service_time():
        result = books.similar(title, top_k=top_k, registry=reg)
    return _ranked(result)
