"""Background images: what an upload must be, the sizes and formats the phones take, the
scaled files and their names, and each vendor's wallpaper setting values.

An upload is a PNG or JPEG of at most :data:`MAX_BYTES` bytes and :data:`MAX_PIXELS`
pixels (the decompression-bomb guard: the size is read from the header before a pixel is
decoded), that decodes whole as the type it was sent as. It is scaled with Pillow to
each *variant* (a screen size and an image format, docs/models.md "Background images")
by cover-crop: scaled to fill the screen, aspect ratio kept, the overflow cut off evenly
on both sides, so no phone shows bars. Transparency is flattened onto black (JPEG and BMP
have none, and phones differ in how they draw it); EXIF orientation is applied first.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from control.domain.catalog import MODELS, ImageFormat, Model
from control.domain.errors import ServiceError

MAX_BYTES = 4 << 20  # 4 MiB: a photo from a phone camera; Yealink takes at most 5 MB
MAX_PIXELS = 4096 * 4096  # decoded, 64 MiB of RGBA at most
MAX_SIDE = 8192
MIN_SIDE = 16  # below this there is nothing to scale up
MEDIA_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}  # content type -> Pillow format
CONTENT_TYPES: dict[ImageFormat, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "bmp": "image/bmp",
}
_EXTENSIONS: dict[ImageFormat, str] = {"png": "png", "jpeg": "jpg", "bmp": "bmp"}
_PILLOW: dict[ImageFormat, str] = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP"}
STEM_LENGTH = 16  # hex digits of the upload's sha256 in its file names


@dataclass(frozen=True, slots=True, order=True)
class Variant:
    width: int
    height: int
    format: ImageFormat

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def variant_of(model: Model) -> Variant | None:
    """The file a model's phones get; None for a model that takes no background."""
    screen = model.wallpaper
    if screen is None or model.vendor.wallpaper is None:
        return None
    return Variant(screen.width, screen.height, model.vendor.wallpaper)


def variants() -> list[Variant]:
    """Every file a background is published as: one per screen size and format."""
    return sorted({v for m in MODELS.values() if (v := variant_of(m)) is not None})


def file_name(stem: str, variant: Variant) -> str:
    """Below the tenant's /p/{key}/; the edge serves exactly this shape (edge/http/routing.py)."""
    return f"bg/{stem}-{variant.width}x{variant.height}.{_EXTENSIONS[variant.format]}"


def _bad(reason: str) -> ServiceError:
    return ServiceError(422, {"body": reason})


def check_upload(data: bytes, content_type: str) -> tuple[int, int]:
    """The image's (width, height), or a 422 naming what is wrong with it."""
    expected = MEDIA_TYPES.get(content_type)
    if expected is None:
        raise ServiceError(422, {"content-type": "image/png or image/jpeg"})
    if len(data) > MAX_BYTES:
        raise ServiceError(413, {"body": f"larger than the limit of {MAX_BYTES} bytes"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bad(f"more than {MAX_PIXELS} pixels") from None
        except (OSError, SyntaxError, ValueError):
            raise _bad("not a PNG or JPEG image") from None
    with image:
        width, height = image.size
        if image.format != expected:
            raise _bad(f"a {image.format} image sent as {content_type}")
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise _bad(f"{width}x{height} is more than {MAX_PIXELS} pixels or {MAX_SIDE} on a side")
        if min(width, height) < MIN_SIDE:
            raise _bad(f"{width}x{height} is smaller than {MIN_SIDE} pixels on a side")
        try:
            image.load()  # every pixel decodes: a truncated or corrupt file fails here
        except (OSError, SyntaxError, ValueError) as exc:
            raise _bad(f"does not decode as {expected}: {exc}") from None
    return width, height


def render_all(data: bytes, wanted: list[Variant]) -> dict[Variant, bytes]:
    """The upload scaled to each variant (decoded once); the bytes are the same for the
    same input, so a republish changes no file."""
    # Twice the largest screen side, either way round (EXIF may turn it): scaling down to
    # that first (JPEG decodes at a fraction of its size, PNG is reduced by whole
    # factors) costs nothing visible and keeps a 16-megapixel upload to a fraction of a
    # second; the Lanczos fit below does the real scaling.
    enough = 2 * max(max(v.width, v.height) for v in wanted) if wanted else 1
    with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as opened:
        if opened.format == "JPEG":
            opened.draft("RGB", (enough, enough))
        image = ImageOps.exif_transpose(opened)
    factor = min(image.width, image.height) // enough
    if factor > 1:
        image = image.reduce(factor)
    image = image.convert("RGBA")
    found: dict[Variant, bytes] = {}
    for variant in wanted:
        size = (variant.width, variant.height)
        fitted = ImageOps.fit(image, size, Image.Resampling.LANCZOS, centering=(0.5, 0.5))
        flat = Image.new("RGBA", size, (0, 0, 0, 255))
        flat.alpha_composite(fitted)
        out = io.BytesIO()
        # RGB everywhere: 24-bit BMP (the SPA525G's), baseline JPEG, 8-bit RGB PNG
        flat.convert("RGB").save(out, format=_PILLOW[variant.format], **_OPTIONS[variant.format])
        found[variant] = out.getvalue()
    return found


_OPTIONS: dict[ImageFormat, dict[str, object]] = {
    "png": {},
    "jpeg": {"quality": 90, "progressive": False},
    "bmp": {},
}


# Each vendor's wallpaper choice setting (vendor-settings-audit.md, "Line label, wallpaper,
# hot-desking"): its value with a background, and without one.
def _yealink(file: str) -> str:
    return f"Config:{file}"  # the file name the phone saved wallpaper_upload.url's image as


_SELECT = {
    "yealink": (_yealink, ""),  # empty: the phone keeps its own choice
    "polycom": (lambda file: "2,1", "1,1"),  # 2,1: bitmap 1 (bg.color.bm.1); 1,1: built-in 1
    "cisco-spa": (lambda file: "BMP Picture", "None"),
    "cisco-mpp": (lambda file: "None", "None"),  # takes none; the file is shared with SPA
    "grandstream": (lambda file: "1", "0"),  # P2916: 1 download, 0 default
}


def values(model: Model, provisioning_url: str, stem: str) -> dict[str, str]:
    """``device.background_*`` for a device of ``model`` with the background ``stem``
    (empty: none chosen)."""
    vendor = model.vendor
    variant = variant_of(model) if stem else None
    name = "" if variant is None else file_name(stem, variant)
    on, off = _SELECT.get(vendor.id, (lambda file: "", ""))
    file = name.rpartition("/")[2]
    return {
        "device.background_url": provisioning_url + name if name else "",
        "device.background_file": file,
        "device.background_enabled": vendor.true if name else vendor.false,
        "device.background_select": on(file) if name else off,
    }


def refuse_unless_screen(model: Model, field: str) -> None:
    """A 422 on ``field`` for a model that takes no background."""
    if variant_of(model) is None:
        why = (
            "has no colour screen that takes a wallpaper"
            if model.vendor.wallpaper is not None
            else f"is a {model.vendor.label} phone: the family has no wallpaper setting"
        )
        raise ServiceError(422, {field: f"{model.label} {why} (docs/models.md)"})
