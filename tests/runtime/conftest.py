"""Tiny random-weight pipelines for the runtime tests, built and loaded once per session."""

from __future__ import annotations

import pytest
import torch

from studio.runtime import encode_prompt, load_model
from studio.runtime.tiny import build_tiny_pipeline

FAMILIES = ("wan", "ltx", "cogvideox")
# The pipeline that does image-to-video for each family: Wan and CogVideoX ship a separate i2v model,
# LTX does it with its text-to-video weights.
I2V_TASK = {"wan": "i2v", "ltx": "t2v", "cogvideox": "i2v"}


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine spinning threads
    made the tiny VAEs 10x slower (measured: Wan VAE decode 0.06 s CPU with 1 thread, 0.4-1.2 s with 2)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    built: dict = {}

    def get(family: str, task: str = "t2v"):
        if (family, task) not in built:
            folder = tmp_path_factory.mktemp(f"tiny-{family}-{task}")
            built[family, task] = build_tiny_pipeline(family, folder, task=task)
        return built[family, task]

    return get


@pytest.fixture(scope="session")
def tiny_model(tiny_folder):
    loaded: dict = {}

    def get(family: str, task: str = "t2v"):
        if (family, task) not in loaded:
            loaded[family, task] = load_model(str(tiny_folder(family, task)))
        return loaded[family, task]

    return get


@pytest.fixture(scope="session")
def tiny_embeds():
    encoded: dict = {}

    def get(model, prompt: str = "a red ball rolling", guidance: float = 3.0):
        key = (id(model), prompt, guidance)
        if key not in encoded:
            encoded[key] = encode_prompt(model, prompt, "", guidance)
        return encoded[key]

    return get
