"""Still images: safe loading (EXIF orientation, size guard) and fitting to a model's frame size."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.errors import MediaError

FIT_MODES = ("crop", "pad", "stretch")
MAX_PIXELS = 16384 * 16384


def load_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3], upright per its EXIF orientation.

    Truncated, unknown or enormous files raise MediaError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("the image file does not exist", path=path, hint="check the path or pick the file again")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise MediaError(f"the image is {img.width}x{img.height}, too large", path=path)
                img.load()  # PIL opens a truncated file happily and fails only here
                upright = ImageOps.exif_transpose(img)
                rgb = _as_rgb(upright)
    except MediaError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"not a readable image ({exc.__class__.__name__})", path=path,
                         hint="use a PNG, JPEG or WebP file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"the image cannot be read: {exc}", path=path,
                         hint="the file may be truncated or damaged") from None
    return np.asarray(rgb, dtype=np.uint8).copy()


def _as_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit greys scaled (not clipped), transparency laid on a neutral grey."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        # Grey rather than black or white: the model sees "nothing here", not a dark or bright scene.
        backdrop = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return img.convert("RGB")


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
