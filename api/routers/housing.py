"""California housing: one district or many as JSON, or a CSV upload answered with a CSV."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.common import answer, read_upload, registry
from api.timing import service_time
from services import housing
from services.inputs import MAX_CSV_BYTES, MAX_CSV_ROWS, read_csv
from services.registry import Registry

router = APIRouter(prefix="/v1/housing", tags=["housing"])
Number = Annotated[float | None, Field(allow_inf_nan=False)]


class District(BaseModel):
    """One census district: the dataset's columns; a number left out is imputed as in training."""

    model_config = ConfigDict(extra="forbid")
    longitude: Number = None
    latitude: Number = None
    housing_median_age: Number = None
    total_rooms: Number = None
    total_bedrooms: Number = None
    population: Number = None
    households: Number = None
    median_income: Number = Field(None, description="tens of thousands of dollars")
    ocean_proximity: str = Field(description=", ".join(housing.OCEAN_CATEGORIES))


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    districts: list[District] = Field(min_length=1, max_length=MAX_CSV_ROWS)


class Prediction(BaseModel):
    price: float  # dollars
    lower_80: float
    upper_80: float


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    provider: str
    ms: float


def _frame(districts: list[District]) -> pd.DataFrame:
    """The districts as the service's frame, built column by column (a None becomes NaN: imputed)."""
    columns: dict[str, object] = {
        name: np.array([getattr(d, name) for d in districts], dtype=np.float64) for name in housing.NUMERIC_COLUMNS
    }
    columns["ocean_proximity"] = [d.ocean_proximity for d in districts]
    return pd.DataFrame(columns)


@router.post("/predict", response_model=PredictResponse, summary="Median house value with an 80% interval")
def predict(request: PredictRequest, reg: Annotated[Registry, Depends(registry)]) -> PredictResponse:
    with service_time():
        result = housing.predict(_frame(request.districts), registry=reg)
    return answer(
        PredictResponse(
            predictions=[
                Prediction(price=round(float(p), 2), lower_80=round(float(lo), 2), upper_80=round(float(hi), 2))
                for p, lo, hi in zip(result.price, result.lower, result.upper, strict=True)
            ],
            provider=result.provider,
            ms=round(sum(result.timings_ms.values()), 3),
        )
    )


@router.post(
    "/predict.csv",
    summary="A CSV of districts in, the same rows with predicted, lower_80 and upper_80 out",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def predict_csv(
    reg: Annotated[Registry, Depends(registry)], file: Annotated[UploadFile | None, File()] = None
) -> Response:
    frame = read_csv(read_upload(file, MAX_CSV_BYTES), housing.CSV_SCHEMA)
    with service_time():
        result = housing.predict(frame, registry=reg)
    table = frame.assign(
        predicted=result.price.round(0), lower_80=result.lower.round(0), upper_80=result.upper.round(0)
    )
    return Response(table.to_csv(index=False), media_type="text/csv")
