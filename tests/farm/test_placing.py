"""Signing on the head (pure: no Ray): a worker's export under signing_deferred leaves its clip unsigned and
says what to sign; the head signs it where it places it, with the farm section in its credentials."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from studio.engine.jobs import make_jobs
from studio.farm.placing import place_files, signing_from_data, signing_to_data
from studio.graph import NodeRegistry, dumps, load_graph
from studio.media.export import export_clip
from studio.media.provenance import DeferredSigning, Ingredient, Provenance, signing_deferred
from studio.media.verify import verify_file
from studio.paths import RESOURCES


def test_what_a_worker_would_have_signed_survives_the_trip_to_the_head(tmp_path):
    picture = tmp_path / "hero.png"
    request = DeferredSigning(
        Provenance("studio-tiny", "abc", ["a red circle"], 7, {"steps": 20, "size": (64, 64)}, "sha256:1",
                   [Ingredient(picture, "inputTo", "hero"), str(tmp_path / "song.wav")], None, '{"nodes": []}',
                   adapters=["style.safetensors sha256:ff @0.8"]),
        "xmp:iid:1234", b"\x01\x02\x03\x04", 256)
    back = signing_from_data(signing_to_data(request))
    assert back.provenance.adapters == ["style.safetensors sha256:ff @0.8"]
    assert back.provenance.settings == {"steps": 20, "size": [64, 64]}  # as the manifest writes it anyway
    assert back.provenance.ingredient_list() == request.provenance.ingredient_list()
    assert (back.instance_id, back.watermark_payload, back.thumbnail) == ("xmp:iid:1234", b"\x01\x02\x03\x04", 256)
    assert back.provenance.parameters() == request.provenance.parameters()


def test_a_deferred_export_is_unsigned_until_the_head_signs_it_with_the_farm_section(tmp_path):
    registry = NodeRegistry.default()
    graph_path = tmp_path / "shot.studio.json"
    shutil.copy(RESOURCES / "examples" / "first-clip.studio.json", graph_path)
    graph = load_graph(graph_path, registry)
    (job,) = make_jobs(dumps(graph, registry), graph, registry, seeds=[3], base_dir=tmp_path)
    frames = np.random.default_rng(0).integers(0, 256, (9, 64, 64, 3), dtype=np.uint8)
    asked = []
    scratch = tmp_path / "worker" / "export"
    scratch.mkdir(parents=True)
    with signing_deferred(lambda dest, request: asked.append(request)):
        result = export_clip(frames, 8, scratch / "first-clip.mp4",
                             provenance=Provenance("studio-tiny", seed=3, prompts=["a red circle"]))
    assert len(asked) == 1 and result.manifest_label == ""
    assert not verify_file(result.path).has_manifest  # nothing signed on the worker
    farm = {"batch": "b1", "job": 1, "attempt": 2, "worker": "worker-2", "host": "gpu-a"}
    (placed,) = place_files(job, registry, {"export": {".mp4": result.path.read_bytes()}},
                            signing={"export": signing_to_data(asked[0])}, farm=farm)
    assert Path(placed) == tmp_path / "renders" / "first-clip.mp4"
    report = verify_file(placed, trust_anchors="local")
    assert report.ok and report.trusted, report.to_text()
    assert report.generation["settings"]["farm"] == farm and report.generation["seed"] == 3
    assert report.watermark is not None and report.watermark.matches_manifest is True  # same instance id
    assert not [p for p in (tmp_path / "renders").iterdir() if p.name.startswith(".")]
