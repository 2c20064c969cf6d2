"""Neural style transfer: the styles on offer, and a photo restyled as one painting or a blend of two (PNG)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from api.common import png, registry, upload_image
from api.timing import service_time
from services import style
from services.registry import Registry

router = APIRouter(prefix="/v1/style", tags=["style"])


class StyleOut(BaseModel):
    name: str
    ready: bool
    title: str | None = None
    artist: str | None = None
    year: str | None = None
    problem: str | None = None  # why a style is not ready, and the command that fixes it


@router.get("/styles", response_model=list[StyleOut], summary="The paintings the network learned")
def styles(reg: Annotated[Registry, Depends(registry)]) -> list[StyleOut]:
    offered = style.ready_styles(reg)
    out = []
    for name, problem in offered.status.items():
        info = offered.infos.get(name)
        if info is None:
            out.append(StyleOut(name=name, ready=False, problem=problem))
        else:
            out.append(StyleOut(name=name, ready=True, title=info.title, artist=info.artist, year=info.year))
    return out


@router.post(
    "",
    summary="Restyle a photo (multipart: image and options); the answer is a PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def stylize(
    reg: Annotated[Registry, Depends(registry)],
    image: Annotated[UploadFile | None, File(description="PNG, JPEG, GIF, BMP, TIFF or WebP")] = None,
    style_name: Annotated[str, Form(alias="style", description=", ".join(style.STYLES))] = style.STYLES[0],
    mix_with: Annotated[str | None, Form(description="a second style to blend in")] = None,
    mix: Annotated[float, Form(ge=0.0, le=1.0, description="the second style's weight")] = 0.0,
    strength: Annotated[float, Form(ge=0.0, le=1.0)] = 1.0,
    keep_colours: Annotated[bool, Form(description="keep the photo's own colours")] = False,
    max_side: Annotated[int, Form(ge=style.MIN_SIDE, le=style.MAX_SIDE)] = style.DEFAULT_SIDE,
) -> Response:
    with service_time():  # decoding the upload counts here, as for a caller who reads a file
        result = style.stylize(
            upload_image(image),
            style_name,
            mix_with=mix_with or None,
            mix=mix,
            strength=strength,
            keep_original_colours=keep_colours,
            max_side=max_side,
            registry=reg,
        )
    return png(result.image, {"X-Network-Ms": f"{result.seconds * 1000:.1f}", "X-Provider": result.provider})
