"""Recommended settings shipped beside a model: studio.json, or the training script's studio_defaults.json."""

from __future__ import annotations

import json
import shutil

from studio.runtime import load_model


def test_studio_defaults_json_sets_the_recommended_settings(tiny_wan, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_wan, folder)
    (folder / "studio.json").unlink()
    (folder / "studio_defaults.json").write_text(json.dumps(
        {"height": 48, "width": 80, "num_frames": 13, "fps": 12, "num_inference_steps": 7, "guidance_scale": 2.5}))
    model = load_model(str(folder))
    assert model.defaults == {"num_frames": 13, "height": 48, "width": 80, "fps": 12, "steps": 7, "guidance": 2.5}
