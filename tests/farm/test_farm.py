"""The farm on a real local Ray with two worker actors rendering the embedded model (a few steps each):
a batch spread over both and signed on the head, a worker killed mid-job, cancelling within a step with
previews streaming, priorities on one worker, a job whose asset is missing."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
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


def assert_verified(files) -> list:
    """Every clip valid and trusted by this machine's (the head's) own identity: the workers have another
    (see conftest), so a trusted clip was signed on the head."""
    reports = []
    for path in files:
        report = verify_file(path, trust_anchors="local")
        assert report.ok and report.trusted, (path, report.to_text())
        reports.append(report)
    return reports


def test_a_batch_spreads_over_both_workers_and_every_clip_is_signed_on_the_head(farm, registry, graph_file,
                                                                                 farm_home):
    jobs = jobs_for(graph_file, registry, [1, 2, 3, 4], steps=2)
    seen, started = [], []
    outcomes = farm.run(jobs, on_progress=seen.append, on_started=lambda j, w, a: started.append((j.index, a)))
    assert [o.status for o in outcomes] == ["ok"] * 4, [o.message for o in outcomes]
    assert len({o.worker for o in outcomes}) == 2  # both workers took jobs
    assert started == [(1, 1), (2, 1), (3, 1), (4, 1)]
    renders = graph_file.parent / "renders"
    assert [p.name for p in clips(renders)] == [f"first-clip_seed{s}.mp4" for s in (1, 2, 3, 4)]
    assert [Path(o.written[0]).name for o in outcomes] == [f"first-clip_seed{s}.mp4" for s in (1, 2, 3, 4)]
    assert (farm_home / "workers" / "config" / "signing").is_dir()  # the workers' own identity, not used
    reports = assert_verified(clips(renders))
    for outcome, report in zip(outcomes, reports, strict=True):
        section = report.generation["settings"]["farm"]
        assert section == {"batch": farm.batch, "job": outcome.index, "attempt": 1,
                           "worker": outcome.worker.split("@")[0], "host": socket.gethostname()}
    report = reports[2]
    assert json.loads(json.dumps(report.to_dict(), default=str)).get("ok") is True
    text = report.to_text()  # what `studio verify` prints
    assert "Seed:        3" in text and f'"farm": {{"attempt": 1, "batch": "{farm.batch}", "host"' in text
    assert report.watermark is not None and report.watermark.matches_manifest is True
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


def test_cancel_stops_every_worker_within_a_step_and_previews_stream_meanwhile(farm, registry, graph_file):
    jobs = jobs_for(graph_file, registry, [11, 12, 13, 14], steps=20)
    steps_seen: dict[int, int] = {}
    step_seconds: list[float] = []
    previews = []

    def on_progress(update):
        if update.node_id == "generate" and update.total == 20:
            steps_seen[update.index] = update.step
            step_seconds.append(update.step_seconds)
        if update.preview is not None:
            previews.append((update.index, update.preview))
        if len(steps_seen) == 2 and min(steps_seen.values()) >= 3 and not farm.stopped_after:
            farm.cancel()  # both workers are denoising

    outcomes = farm.run(jobs, on_progress=on_progress)
    assert [o.status for o in outcomes] == ["cancelled"] * 4, [(o.status, o.message) for o in outcomes]
    step = max(step_seconds)
    print(f"cancel: every worker idle {farm.stopped_after * 1000:.0f} ms after cancel(); a step took up to "
          f"{step * 1000:.0f} ms; {len(previews)} previews")
    # from cancel() to the last worker's job returned: the step under way, and Ray's round trip
    assert farm.stopped_after is not None and farm.stopped_after < step + 0.1, (farm.stopped_after, step)
    assert max(steps_seen.values()) < 20
    assert not (graph_file.parent / "renders").exists() or not clips(graph_file.parent / "renders")
    assert previews, "no preview streamed back"
    for index, preview in previews:
        assert index in (1, 2) and preview.dtype == "uint8" and preview.shape[0] == 17
        assert preview.ndim == 4 and max(preview.shape[1:3]) <= 64 and preview.shape[3] == 3
    # the workers take jobs again afterwards
    (again,) = farm.run(jobs_for(graph_file, registry, [15], steps=1))
    assert again.status == "ok"


def test_jobs_start_by_priority_then_in_queue_order_on_one_worker(farm, registry, graph_file):
    from dataclasses import replace

    from studio.farm import Farm

    jobs = jobs_for(graph_file, registry, [31, 32, 33, 34, 35, 36], steps=1)
    jobs = [replace(job, priority=p) for job, p in zip(jobs, [0, 0, 5, 0, 5, 5], strict=True)]
    first, late = jobs[:5], jobs[5]
    finished = []

    def on_started(job, worker, attempt):
        if job.index == 3:  # while the batch runs, as the editor's queue does: one more, one fewer
            one.submit([late])
            one.cancel_job(2)

    with Farm("local", workers=1, torch_threads=1, registry=registry) as one:  # beside the session's two
        outcomes = one.run(first, on_started=on_started, on_finished=lambda o: finished.append((o.index, o.status)))
    assert finished == [(2, "cancelled"), (3, "ok"), (5, "ok"), (6, "ok"), (1, "ok"), (4, "ok")], outcomes
    assert [o.index for o in outcomes] == [1, 2, 3, 4, 5, 6]  # in the order given, then those submitted


def test_a_worker_killed_mid_job_is_retried_and_nothing_is_lost(farm, registry, graph_file):
    jobs = jobs_for(graph_file, registry, [21, 22, 23, 24], steps=24)
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
    reports = assert_verified(clips(renders))
    # the clip of the job whose worker died says it was the second try, on another worker
    section = reports[killed[0] - 1].generation["settings"]["farm"]
    assert section["attempt"] == 2 and section["worker"] == retried[0].worker.split("@")[0]
    assert len(farm.workers) == 2  # the dead worker was replaced
