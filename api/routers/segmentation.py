"""Person segmentation: the mask (PNG, 0 or 255 per pixel, or the probability) or an effect applied (PNG)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from api.common import png, registry, upload_image
from api.timing import service_time
from services import segmentation
from services.registry import Registry

router = APIRouter(prefix="/v1/segmentation", tags=["segmentation"])


@router.post(
    "",
    summary="The people in a photo (multipart: image and options): a mask PNG or an effect's PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def segment(
    reg: Annotated[Registry, Depends(registry)],
    image: Annotated[UploadFile | None, File(description="PNG, JPEG, GIF, BMP, TIFF or WebP")] = None,
    output: Annotated[
        Literal["mask", "probability", "effect"],
        Form(description="mask: 255 where a person is; probability: 0-255; effect: the photo with `effect`"),
    ] = "mask",
    effect: Annotated[str, Form(description=", ".join(segmentation.EFFECTS))] = "blur",
    colour: Annotated[str, Form(description="#RRGGBB, for overlay and colour")] = "#1E90FF",
    blur_radius: Annotated[float, Form(ge=0.0, le=100.0)] = 12.0,
    opacity: Annotated[float, Form(ge=0.0, le=1.0)] = 0.5,
    softness: Annotated[float, Form(ge=0.0, le=1.0)] = 0.3,
) -> Response:
    with service_time():  # decoding the upload counts here, as for a caller who reads a file
        photo = upload_image(image)
        seg = segmentation.segment(photo, registry=reg)
    headers = {"X-Person-Share": f"{seg.person_share:.4f}", "X-Provider": seg.provider}
    if output == "mask":
        return png(seg.mask.astype(np.uint8) * 255, headers)
    if output == "probability":
        return png(np.round(seg.probability * 255).astype(np.uint8), headers)
    out = segmentation.apply_effect(
        photo, seg, effect, colour=colour, blur_radius=blur_radius, opacity=opacity, softness=softness
    )
    return png(out, headers)
