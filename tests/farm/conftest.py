"""One local Ray and one farm of two workers for the whole folder (Ray takes about 6 s to start here, and
each worker loads the embedded model once). The workers get a STUDIO_HOME of their own and the tests (the
head) another, so a clip that verifies as trusted against the head's local identity was signed on the head,
not by the worker that rendered it. Ray gets one CPU more than the two workers hold, for a one-worker farm
beside them (the order test)."""

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


# The farm tests' package, not the session: Ray is shut down after them, so a later test that starts a farm
# of its own (the editor's queue) gets a cluster of its own, not this one with its cores taken by these workers.
@pytest.fixture(scope="package")
def farm(farm_home):
    from studio.farm import Farm

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")  # a local test cluster: no token files in the real home
        with pytest.MonkeyPatch.context() as start:
            start.setenv("STUDIO_HOME", str(farm_home / "workers"))  # workers inherit what Ray starts with
            running = Farm("local", workers=2, torch_threads=1, num_cpus=3)
        with running:
            yield running


@pytest.fixture
def graph_file(tmp_path) -> Path:
    path = tmp_path / "shot.studio.json"
    shutil.copy(EXAMPLE, path)
    return path
