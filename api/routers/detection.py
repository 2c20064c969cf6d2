"""Object detection: boxes as JSON, or the photo with its boxes drawn (PNG)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel

from api.common import answer, png, registry, upload_image
from api.timing import service_time
from services import detection
from services.registry import Registry

router = APIRouter(prefix="/v1/detection", tags=["detection"])


class Box(BaseModel):
    label: str
    score: float
    box: list[float]  # x1, y1, x2, y2 in the photo's pixels


class Detected(BaseModel):
    model: str
    provider: str
    width: int
    height: int
    detections: list[Box]


@router.post(
    "",
    response_model=Detected,
    summary="Find objects in a photo (multipart: image and options); JSON boxes, or an annotated PNG",
    responses={200: {"content": {"application/json": {}, "image/png": {}}}},
)
def detect(
    reg: Annotated[Registry, Depends(registry)],
    image: Annotated[UploadFile | None, File(description="PNG, JPEG, GIF, BMP, TIFF or WebP")] = None,
    model: Annotated[str, Form(description=" or ".join(detection.MODELS))] = detection.OWN,
    confidence: Annotated[float, Form(gt=0.0, lt=1.0)] = 0.3,
    iou: Annotated[float, Form(gt=0.0, le=1.0)] = 0.45,
    output: Annotated[Literal["json", "png"], Form(alias="format")] = "json",
):
    with service_time():  # decoding the upload counts here, as for a caller who reads a file
        photo = upload_image(image)
        found = detection.detect(photo, model, confidence=confidence, iou=iou, registry=reg)
    if output == "png":
        return png(detection.annotate(photo, found), {"X-Detections": str(len(found.scores))})
    boxes = [
        Box(label=label, score=round(float(score), 5), box=[round(float(v), 2) for v in box])
        for label, score, box in zip(found.labels(), found.scores, found.boxes, strict=True)
    ]
    return answer(
        Detected(
            model=found.model, provider=found.provider, width=photo.shape[1], height=photo.shape[0], detections=boxes
        )
    )
