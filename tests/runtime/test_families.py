"""One tester for every family module: the built-in ones and one registered from outside the package.

Adding a family is its module under studio/runtime/families/ (or a plugin's) and one row in FAMILY_ROWS.
"""

from __future__ import annotations

import dataclasses

import diffusers
import numpy as np
import pytest

from studio.errors import ModelError
from studio.runtime import VideoRequest, decode, encode_prompt, families, load_model, sample
from studio.runtime.families import FAMILIES, TASKS, FamilySpec
from studio.runtime.tiny import build_tiny_pipeline, tiny_families
from tests.runtime import family_skyreels

FAMILY_ROWS = [*FAMILIES.values(), family_skyreels.SPEC]


@pytest.fixture(params=FAMILY_ROWS, ids=lambda spec: spec.name)
def spec(request):
    """The row's family, registered for the test when it comes from outside the package."""
    row: FamilySpec = request.param
    added = row.name not in FAMILIES
    if added:
        families.register(row)
    yield row
    if added:
        families.unregister(row.name)


def test_spec_names_real_pipelines_and_owns_its_classes(spec):
    assert spec.loadable and set(spec.pipelines) <= set(TASKS) and "t2v" in spec.tiny_tasks
    for class_name in {*spec.loadable, *spec.pipelines.values()}:
        assert isinstance(getattr(diffusers, class_name, None), type), class_name
    assert all(families.family_for_class(cls) is spec for cls in spec.loadable)
    assert spec.layout in ("bcfhw", "bfchw", "packed")
    assert set(spec.defaults) == {"num_frames", "height", "width", "fps", "steps", "guidance"}
    assert spec.name in tiny_families() and spec.label in families.supported_classes_text()


def test_tiny_text_to_video_loads_samples_with_previews_and_decodes(spec, tmp_path):
    model = load_model(str(build_tiny_pipeline(spec.name, tmp_path / spec.name)))
    assert model.family == spec.name and model.spec is spec
    assert "t2v" in model.capabilities and model.capabilities <= set(TASKS)
    embeds = encode_prompt(model, "a red ball rolling", "", 3.0)
    request = VideoRequest(num_frames=9, height=32, width=32, steps=2, guidance=3.0, seed=5)
    updates = []
    latents = sample(model, embeds, request, on_step=updates.append)
    assert [u.step for u in updates] == [1, 2]
    assert all(u.preview.shape[0] == 9 and u.preview.dtype == np.uint8 for u in updates)
    frames = decode(model, latents)
    assert frames.shape == (9, 32, 32, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, decode(model, sample(model, embeds, request)))
    with pytest.raises(ModelError, match="cannot render this request"):
        sample(model, embeds, dataclasses.replace(request, num_frames=8))


def test_a_family_from_outside_loads_only_while_registered(tmp_path):
    outside = family_skyreels.SPEC
    families.register(outside)
    try:
        folder = build_tiny_pipeline(outside.name, tmp_path / "skyreels")
    finally:
        families.unregister(outside.name)
    with pytest.raises(ModelError, match="not a video pipeline Studio supports") as refused:
        load_model(str(folder))
    assert "SkyReelsV2Pipeline" not in (refused.value.hint or "")
    with pytest.raises(ValueError, match="unknown family 'skyreels-v2'"):
        build_tiny_pipeline(outside.name, tmp_path / "again")
    families.register(outside)
    try:
        assert load_model(str(folder)).spec is outside
    finally:
        families.unregister(outside.name)


def test_a_family_may_not_claim_another_familys_pipeline_class():
    claimed = ("SkyReelsV2Pipeline", "LTXPipeline")
    thief = dataclasses.replace(family_skyreels.SPEC, name="thief", loadable=claimed)
    with pytest.raises(ValueError, match=r"LTXPipeline \(ltx\)"):
        families.register(thief)
    assert "thief" not in FAMILIES and families.family_for_class("LTXPipeline").name == "ltx"

