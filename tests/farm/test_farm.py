"""The farm on a real local Ray with two worker actors rendering the embedded model (a few steps each):
a batch spread over both, a worker killed mid-job, cancelling, a job whose asset is missing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the farm tests need Ray: pip install 'studio[farm]'")

from studio.engine.jobs import Override, apply_override, make_jobs  # noqa: E402
from studio.farm import missing_assets  # noqa: E402
from studio.graph import NodeRegistry, dumps, load_graph  # noqa: E402
from studio.media.verify import verify_file  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry() -> NodeRegistry:
    return NodeRegistry.default()


def jobs_for(path: Path, registry, seeds, steps: int, extra: dict | None = None):
    graph = load_graph(path, registry)
    apply_override(graph, registry, Override("generate", "steps", str(steps)))
    for target, value in (extra or {}).items():
        node, param = target.split(".")
        graph.set_param(node, param, value)
    return make_jobs(dumps(graph, registry), graph, registry, seeds=seeds, base_dir=path.parent)


def clips(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.mp4"))


def assert_verified(files) -> None:
    for path in files:
        report = verify_file(path, trust_anchors="local")
        assert report.ok, (path, report.to_text())


def test_a_batch_spreads_over_both_workers_and_every_clip_verifies(farm, registry, graph_file):
    jobs = jobs_for(graph_file, registry, [1, 2, 3, 4], steps=2)
    seen = []
    outcomes = farm.run(jobs, on_progress=seen.append)
    assert [o.status for o in outcomes] == ["ok"] * 4, [o.message for o in outcomes]
    assert len({o.worker for o in outcomes}) == 2  # both workers took jobs
    renders = graph_file.parent / "renders"
    assert [p.name for p in clips(renders)] == [f"first-clip_seed{s}.mp4" for s in (1, 2, 3, 4)]
    assert [Path(o.written[0]).name for o in outcomes] == [f"first-clip_seed{s}.mp4" for s in (1, 2, 3, 4)]
    assert_verified(clips(renders))
    report = verify_file(renders / "first-clip_seed3.mp4", trust_anchors="local")
    assert json.loads(json.dumps(report.to_dict(), default=str)).get("ok") is True
    assert "Seed:        3" in report.to_text()
    assert not [p for p in renders.iterdir() if p.name.startswith(".")]  # no part files left on the head
    assert seen and all(u.index in (1, 2, 3, 4) for u in seen)  # progress streamed back while rendering


def test_a_job_whose_asset_is_missing_fails_once_with_its_message(farm, registry, graph_file):
    doc = json.loads(graph_file.read_text())
    doc["nodes"].append({"id": "ref", "type": "studio.ReferenceImage", "position": [0, 400],
                         "params": {"path": "pictures/hero.png", "fit": "crop"}})
    doc["links"].append({"from": ["ref", "image"], "to": ["generate", "image"]})
    graph_file.write_text(json.dumps(doc))
    jobs = jobs_for(graph_file, registry, [5], steps=2)
    hero = graph_file.parent / "pictures" / "hero.png"
    assert missing_assets(jobs, registry) == [
        f"node 'ref': file '{hero}' of parameter 'path' does not exist"]  # the CLI refuses before submitting
    (outcome,) = farm.run(jobs)  # submitted anyway: the worker finds it missing, once
    assert outcome.status == "failed" and outcome.attempts == 1
    assert "node 'ref'" in outcome.message and str(hero) in outcome.message
    assert not (graph_file.parent / "renders").exists() or not clips(graph_file.parent / "renders")


def test_cancel_stops_every_worker_within_a_step(farm, registry, graph_file):
    jobs = jobs_for(graph_file, registry, [11, 12, 13, 14], steps=400)
    cancelled_at: list[float] = []
    steps_seen: dict[int, int] = {}

    def on_progress(update):
        if update.total > 1:
            steps_seen[update.index] = update.step
        if len(steps_seen) == 2 and not cancelled_at:  # both workers are denoising
            cancelled_at.append(time.perf_counter())
            farm.cancel()

    outcomes = farm.run(jobs, on_progress=on_progress)
    stopped = time.perf_counter() - cancelled_at[0]
    assert [o.status for o in outcomes] == ["cancelled"] * 4
    assert stopped < 5.0, f"the batch took {stopped:.1f} s to stop"
    assert max(steps_seen.values()) < 400
    assert not (graph_file.parent / "renders").exists() or not clips(graph_file.parent / "renders")
    # the workers take jobs again afterwards
    (again,) = farm.run(jobs_for(graph_file, registry, [15], steps=1))
    assert again.status == "ok"


def test_a_worker_killed_mid_job_is_retried_and_nothing_is_lost(farm, registry, graph_file):
    jobs = jobs_for(graph_file, registry, [21, 22, 23, 24], steps=40)
    killed: list[int] = []
    lock = threading.Lock()

    def on_progress(update):
        with lock:
            if not killed and update.node_id == "generate" and update.total > 1 and update.step >= 2:
                pid = int(update.worker.rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(update.index)

    outcomes = farm.run(jobs, on_progress=on_progress)
    assert killed, "no worker was killed: the batch ran too fast to test this"
    assert [o.status for o in outcomes] == ["ok"] * 4, [o.message for o in outcomes]
    retried = [o for o in outcomes if o.attempts > 1]
    assert [o.index for o in retried] == killed
    renders = graph_file.parent / "renders"
    assert [p.name for p in clips(renders)] == [f"first-clip_seed{s}.mp4" for s in (21, 22, 23, 24)]
    assert_verified(clips(renders))
    assert len(farm.workers) == 2  # the dead worker was replaced
