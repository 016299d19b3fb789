"""A tiny Wan 2.2-style pipeline (text-, image- and video-to-video in one model), built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_ti2v(tmp_path_factory):
    from studio.runtime.tiny import build_tiny_pipeline

    return build_tiny_pipeline("wan", tmp_path_factory.mktemp("models") / "tiny-ti2v", task="ti2v")
