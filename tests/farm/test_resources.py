"""What a farm job needs of a GPU, and the refusal of a job no worker can hold (pure: no Ray, no GPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.engine.jobs import make_jobs
from studio.errors import StudioError
from studio.farm.resources import (
    FIXED_BYTES,
    GIB,
    Need,
    check_fits,
    component_bytes,
    job_need,
    vram_estimate,
    weights_on_gpu,
)
from studio.graph import NodeRegistry, dumps, load_graph
from studio.paths import RESOURCES

EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"


@pytest.fixture(scope="module")
def registry() -> NodeRegistry:
    return NodeRegistry.default()


def test_the_estimate_is_weights_plus_64_bytes_a_pixel_plus_a_fixed_overhead():
    assert vram_estimate(0, 0, 0, 0) == FIXED_BYTES == 1.5 * GIB
    # Wan 2.1 at its recommended 81 x 832 x 480: 2.07 GB of working memory over the weights
    assert vram_estimate(10 * GIB, 832, 480, 81) == 10 * GIB + 81 * 832 * 480 * 64 + FIXED_BYTES
    assert vram_estimate(0, 1280, 720, 81) > vram_estimate(0, 832, 480, 81) > vram_estimate(0, 832, 480, 17)


def fake_model(folder: Path) -> Path:
    """A model folder with known tensors: a float32 transformer (1000 + 24 values), a float32 VAE (100), an
    int8 (quantized) text encoder (500), and a file at the top that is not weights."""
    for name, tensors in {"transformer": {"a": np.zeros((10, 100), np.float32), "b": np.zeros(24, np.float32)},
                          "vae": {"c": np.zeros(100, np.float32)},
                          "text_encoder": {"d": np.zeros(500, np.int8)}}.items():
        (folder / name).mkdir(parents=True)
        save_file(tensors, str(folder / name / "model.safetensors"))
    (folder / "model_index.json").write_text("{}")
    return folder


def test_weights_count_at_the_precision_they_load_in(tmp_path):
    folder = fake_model(tmp_path / "m")
    # on a GPU floats load at 2 bytes; the int8 tensor stays 1 byte a value
    assert component_bytes(folder) == {"transformer": 2048, "vae": 200, "text_encoder": 500,
                                       "*largest tensor*": 2000}
    assert component_bytes(folder, "float32")["transformer"] == 4096
    # Wan keeps its VAE in float32 whatever the dtype
    assert component_bytes(folder, "bfloat16", keep_float32=("vae",))["vae"] == 400


def test_offloading_keeps_less_on_the_gpu(tmp_path):
    parts = component_bytes(fake_model(tmp_path / "m"))
    assert weights_on_gpu(parts) == 2048 + 200 + 500
    assert weights_on_gpu(parts, "model") == 2048  # the largest component at a time
    assert weights_on_gpu(parts, "sequential") == 2000  # the largest tensor at a time
    assert weights_on_gpu(parts, "group") == 4000  # a group computing, the next streamed in
    assert weights_on_gpu(parts, "auto") == 2000  # the worker picks what fits: no more than sequential


def test_a_file_that_only_claims_to_be_safetensors_is_refused(tmp_path):
    (tmp_path / "m" / "vae").mkdir(parents=True)
    (tmp_path / "m" / "vae" / "x.safetensors").write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(StudioError, match="not a safetensors file"):
        component_bytes(tmp_path / "m")


def jobs_for(tmp_path: Path, registry, **params) -> list:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "shot.studio.json"
    shutil.copy(EXAMPLE, path)
    doc = json.loads(path.read_text())
    for node in doc["nodes"]:
        for key, value in params.items():
            nid, param = key.split("__")
            if node["id"] == nid:
                node["params"][param] = value
    path.write_text(json.dumps(doc))
    graph = load_graph(path, registry)
    return make_jobs(dumps(graph, registry), graph, registry, seeds=[1, 2], base_dir=tmp_path)


@pytest.mark.slow  # the model's folder is found by the runtime, which imports torch (about 5 s here)
def test_a_job_needs_its_model_and_its_clip_size(tmp_path, registry):
    (job, _) = jobs_for(tmp_path, registry)
    need = job_need(job, registry)
    # the embedded model at its recommended 17 x 64 x 64, weights at 2 bytes but its Wan VAE at 4
    from studio.runtime.loading import embedded_folder

    weights = weights_on_gpu(component_bytes(embedded_folder(), "auto", ("vae",)))
    assert need.vram == weights + 17 * 64 * 64 * 64 + FIXED_BYTES
    assert "17x64x64" in need.what and "embedded" in need.what
    bigger = job_need(jobs_for(tmp_path / "b", registry, generate__width=1280, generate__height=720,
                               generate__num_frames=81)[0], registry)
    assert bigger.vram - need.vram == (81 * 1280 * 720 - 17 * 64 * 64) * 64
    on_cpu = job_need(jobs_for(tmp_path / "c", registry, model__device="cpu")[0], registry)
    assert on_cpu == Need()


def test_a_model_the_head_cannot_find_is_refused_naming_its_node(tmp_path, registry):
    (job, _) = jobs_for(tmp_path, registry, model__source=str(tmp_path / "no-such-model"))
    with pytest.raises(StudioError) as caught:
        job_need(job, registry)
    assert caught.value.node_id == "model" and "no-such-model" in str(caught.value)


def test_a_job_bigger_than_every_worker_is_refused_with_both_figures(tmp_path, registry):
    jobs = jobs_for(tmp_path, registry)
    needs = [Need(int(30.5 * GIB), "model 'x' 26.0 GiB + 81x1280x720 frames"), Need(8 * GIB, "small")]
    check_fits(jobs, [Need(8 * GIB)] * 2, 24 * GIB, "worker-1@gpu-a:7")  # fits: nothing said
    check_fits(jobs, needs, 0, "")  # CPU workers: no GPU memory to check
    with pytest.raises(StudioError) as caught:
        check_fits(jobs, needs, 24 * GIB, "worker-1@gpu-a:7")
    text = str(caught.value)
    assert "job 1 (" in text and "30.5 GiB" in text and "24.0 GiB, worker-1@gpu-a:7" in text
    assert "job 2" not in text and "offload" in text
