"""Reference images: EXIF orientation, fit modes, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.errors import MediaError
from studio.media.image import fit_image, load_image


def test_exif_orientation_is_honoured(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    path = tmp_path / "photo.jpg"
    img.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.shape == (40, 20, 3)  # upright: portrait
    assert loaded[2, 10, 0] > 200 and loaded[-3, 10, 0] < 60  # red half now on top


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_formats_load_as_rgb(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("RGBA" if fmt != "JPEG" else "RGB", (8, 6), (10, 200, 30)).save(path, fmt)
    out = load_image(path)
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8
    assert abs(int(out[3, 4, 1]) - 200) < 8


def test_bad_files_are_refused_by_name(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(MediaError, match="not a readable image") as info:
        load_image(text)
    assert str(text) in str(info.value)
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:400])
    with pytest.raises(MediaError, match="cannot be read"):
        load_image(truncated)


def test_fit_modes_give_the_exact_size():
    wide = np.zeros((50, 100, 3), np.uint8)
    wide[:, 40:60] = 255  # a white bar in the middle
    for mode in ("crop", "pad", "stretch"):
        out = fit_image(wide, 64, 64, mode)
        assert out.shape == (64, 64, 3)
    crop = fit_image(wide, 64, 64, "crop")
    assert crop[:, 32].min() > 200  # the centre survives a crop, top to bottom
    pad = fit_image(wide, 64, 64, "pad")
    assert pad[0, 32].max() < 10 and pad[32, 32].min() > 200  # padded with the edge colour, bar kept
    with pytest.raises(MediaError):
        fit_image(wide, 64, 64, "zoom")
