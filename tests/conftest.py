"""Shared test setup: headless Qt, offline Hugging Face, a private STUDIO_HOME per test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory):
    """A tiny random-weight Wan text-to-video pipeline folder, built once per test session."""
    from studio.runtime.tiny import build_tiny_pipeline

    return build_tiny_pipeline("wan", tmp_path_factory.mktemp("models") / "tiny-wan")


@pytest.fixture(scope="session")
def tiny_ti2v(tmp_path_factory):
    """A tiny random-weight Wan pipeline that also does image-to-video (what sequences continue shots with)."""
    from studio.runtime.tiny import build_tiny_pipeline

    return build_tiny_pipeline("wan", tmp_path_factory.mktemp("models") / "tiny-ti2v", task="ti2v")
