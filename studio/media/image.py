"""Still images: safe loading (EXIF orientation, size caps) and fitting to a model's frame size."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.errors import MediaError

FIT_MODES = ("crop", "pad", "stretch")
# A reference picture is fitted to the model's frame size (a few megapixels at most), so Studio decodes at
# most this many pixels: 120 MB as RGB, and an 8K frame (7680 x 4320) fits. It is checked against the header
# before decoding; a larger JPEG is decoded at 1/2, 1/4 or 1/8 scale instead (libjpeg does that for free),
# any other format is refused. PIL's own guard (an error at twice Image.MAX_IMAGE_PIXELS) stays as it is.
MAX_PIXELS = 40_000_000
_BAND_PIXELS = 1 << 20  # converted to RGB a band of rows at a time: the peak is the decoded image plus ~8 MB


def load_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3], upright per its EXIF orientation.

    Truncated, unknown or enormous files raise MediaError naming the file; an enormous JPEG comes back
    scaled down to fit MAX_PIXELS.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("the image file does not exist", path=path, hint="check the path or pick the file again")
    try:
        with warnings.catch_warnings():
            # PIL warns from 89 MP; our cap is lower and checked just below, before anything is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _within_cap(img, path)
                img.load()  # PIL opens a truncated file happily and fails only here
                ImageOps.exif_transpose(img, in_place=True)
                return _rgb_pixels(img)
    except MediaError:
        raise
    except Image.DecompressionBombError:
        raise MediaError(f"the image is far too large to read (more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels; "
                         f"Studio reads up to {MAX_PIXELS:,})", path=path,
                         hint="scale it down in an image editor first") from None
    except UnidentifiedImageError as exc:
        raise MediaError(f"not a readable image ({exc.__class__.__name__})", path=path,
                         hint="use a PNG, JPEG or WebP file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"the image cannot be read: {exc}", path=path,
                         hint="the file may be truncated or damaged") from None


def _within_cap(img: Image.Image, path: Path) -> None:
    """Refuse (or, for a JPEG, plan a reduced decode of) an image whose header says it is over MAX_PIXELS."""
    width, height = img.size
    if width * height <= MAX_PIXELS:
        return
    if img.format in ("JPEG", "MPO"):
        scale = next((s for s in (2, 4, 8) if math.ceil(width / s) * math.ceil(height / s) <= MAX_PIXELS), 0)
        if scale:
            img.draft(None, (width // scale, height // scale))
            if img.width * img.height <= MAX_PIXELS:
                return
    raise MediaError(f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels), over Studio's cap "
                     f"of {MAX_PIXELS / 1e6:.0f} megapixels", path=path,
                     hint="scale it down (a reference only needs the model's frame size), or save it as JPEG")


def _rgb_pixels(img: Image.Image) -> np.ndarray:
    """The whole image as uint8 RGB, converted a band of rows at a time."""
    width, height = img.size
    out = np.empty((height, width, 3), np.uint8)
    # The scale of 32-bit greys depends on the whole image, not on one band.
    top = 255.0
    if img.mode in ("I;16", "I;16L", "I;16B"):
        top = 65535.0
    elif img.mode == "I":
        top = 65535.0 if img.getextrema()[1] > 255 else 255.0
    rows = max(1, _BAND_PIXELS // max(width, 1))
    for first in range(0, height, rows):
        band = img.crop((0, first, width, min(height, first + rows)))
        out[first : first + band.height] = _as_rgb(band, top)
    return out


def _as_rgb(img: Image.Image, top: float) -> np.ndarray:
    """8-bit RGB: 16-bit greys scaled (not clipped) by ``top``, transparency laid on a neutral grey."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I"):
        values = np.asarray(img, dtype=np.float64)
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        # Grey rather than black or white: the model sees "nothing here", not a dark or bright scene.
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return np.asarray(Image.alpha_composite(backdrop, rgba).convert("RGB"))
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def fit_image(pixels: np.ndarray, width: int, height: int, mode: str = "crop") -> np.ndarray:
    """Resize to exactly width x height: crop the overflow, pad with the edge colour, or stretch."""
    if mode not in FIT_MODES:
        raise MediaError(f"unknown fit mode '{mode}'", hint=f"use one of {', '.join(FIT_MODES)}")
    img = Image.fromarray(pixels)
    if mode == "stretch":
        return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS))
    if mode == "crop":
        return np.asarray(ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS))
    scale = min(width / img.width, height / img.height)
    inner = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                       Image.Resampling.LANCZOS)
    corner = tuple(int(v) for v in np.asarray(inner)[0, 0])
    canvas = Image.new("RGB", (width, height), corner)
    canvas.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return np.asarray(canvas)
