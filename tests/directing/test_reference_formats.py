"""Reference pictures in the formats people bring, as the camera guide sees them (16-bit and transparency fixed upstream)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.media.image import load_image


@pytest.mark.parametrize("fmt, mode", [("PNG", "P"), ("JPEG", "CMYK"), ("WEBP", "RGB"), ("GIF", "P"),
                                       ("PNG", "LA"), ("TIFF", "RGB")])
def test_common_modes_load_with_their_colour(tmp_path, fmt, mode):
    path = tmp_path / f"pic.{fmt.lower()}"
    rgb = Image.new("RGB", (8, 6), (200, 40, 30))
    if mode == "CMYK":
        picture = rgb.convert("CMYK")
    elif mode == "LA":
        picture = Image.new("LA", (8, 6), (120, 255))
    elif mode == "P":
        picture = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        picture = rgb
    picture.save(path, fmt)
    pixels = load_image(path)
    assert pixels.shape == (6, 8, 3) and pixels.dtype == np.uint8
    expected = (120, 120, 120) if mode == "LA" else (200, 40, 30)
    assert np.abs(pixels[3, 4].astype(int) - expected).max() <= 12


def test_sixteen_bit_png_keeps_its_tones(tmp_path):
    ramp = np.linspace(0, 65535, 64).astype(np.uint16)[None, :].repeat(8, axis=0)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    pixels = load_image(path)
    assert abs(int(pixels[0, 32, 0]) - 130) < 6  # mid-grey stays mid-grey


def test_transparent_areas_come_out_as_a_plain_background(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere ...
    rgba[:4, :, 3] = 255  # ... but only the top half is opaque
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba).save(path)
    pixels = load_image(path)
    assert pixels[0, 0].tolist() == [255, 0, 0]
    assert pixels[7, 0, 1] > 100  # the see-through half is not red
