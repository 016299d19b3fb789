"""One local Ray and one farm of two workers for the whole folder (Ray takes about 6 s to start here, and
each worker loads the embedded model once), with one STUDIO_HOME the workers share with the tests, so the
clips they sign verify against the same local identity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.paths import RESOURCES

EXAMPLE = RESOURCES / "examples" / "first-clip.studio.json"


@pytest.fixture(scope="session")
def farm_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("farm-home")


@pytest.fixture(autouse=True)
def studio_home(farm_home, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(farm_home))
    return farm_home


@pytest.fixture(scope="session")
def farm(farm_home):
    from studio.farm import Farm

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STUDIO_HOME", str(farm_home))  # the workers inherit the environment Ray starts with
        mp.setenv("RAY_AUTH_MODE", "disabled")  # a local test cluster: no token files in the real home
        with Farm("local", workers=2, torch_threads=1, num_cpus=2) as running:
            yield running


@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "shot.studio.json"
    shutil.copy(EXAMPLE, path)
    return path
