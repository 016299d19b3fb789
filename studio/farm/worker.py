"""A farm worker: Studio's own engine in a long-lived process (a Ray actor), rendering one job at a time.

The engine, and with it the output cache that keeps loaded models, lives as long as the worker: a model loads
once per worker, not once per job. A job's clips are written into a scratch folder of the worker and sent back
as bytes, unsigned, with what their Content Credentials are to say; the head alone signs them and places them
in the output folder, so a job retried after its worker died can never leave two copies behind, and every clip
of a batch is signed by the machine where it lands. Nothing here imports Ray: the head wraps this class as an
actor.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine import CancelToken, Engine
from studio.engine.events import NodeProgress, NodeStarted
from studio.engine.jobs import Job, writer_nodes
from studio.engine.outputs import OutputPolicy
from studio.errors import StudioError
from studio.graph import NodeRegistry

PROGRESS_EVERY_S = 0.2  # the head polls at most this often per worker: 16 workers never flood a front end
PREVIEW_EVERY_S = 0.5  # a running job's preview travels at most twice a second per worker (the head may ask less)
PREVIEW_PIXELS = 64  # longest side of a streamed preview frame
PREVIEW_FRAMES = 48  # at most this many frames of it, spread over the whole clip


@dataclass(frozen=True)
class Progress:
    """Where a worker's current job stands: node ``node_id`` at ``step`` of ``total``.

    ``preview``: the whole clip as it looks now, uint8 [T, h, w, 3] with h, w <= 64 and T <= 48, or None
    when there is nothing newer than the last one sent (it comes at most every 0.5 s per worker).
    ``step_seconds``: the last step's duration (0 before the second step)."""

    worker: str
    index: int  # the job's index in its batch; 0 when idle
    node_id: str = ""
    step: int = 0
    total: int = 0
    message: str = ""
    preview: Any = None
    step_seconds: float = 0.0


@dataclass(frozen=True)
class WorkerInfo:
    """Who a worker is, for the clip's provenance and for packing jobs onto GPUs."""

    name: str  # worker-3@host:pid, what Progress and JobOutcome call it
    worker_id: str  # worker-3
    host: str
    pid: int
    vram: int  # bytes of GPU memory of its GPU, 0 without one


def shrink(clip: np.ndarray, pixels: int = PREVIEW_PIXELS, frames: int = PREVIEW_FRAMES) -> np.ndarray:
    """A whole-clip preview small enough to stream: at most ``frames`` frames (spread evenly, first and last
    kept), each averaged down in whole blocks to at most ``pixels`` on its longest side."""
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise ValueError(f"a preview is [T, H, W, 3], not {clip.shape}")
    if len(clip) > frames:
        clip = clip[np.linspace(0, len(clip) - 1, frames).round().astype(int)]
    factor = -(-max(clip.shape[1:3]) // pixels)
    if factor > 1:
        t, h, w, _ = clip.shape
        h2, w2 = h // factor, w // factor
        # a block average, not every n-th pixel: a thin moving object must not flicker in and out
        blocks = clip[:, : h2 * factor, : w2 * factor].reshape(t, h2, factor, w2, factor, 3)
        clip = blocks.mean(axis=(2, 4)).round()
    return np.ascontiguousarray(clip, dtype=np.uint8)


class RenderWorker:
    """Renders Jobs. ``render`` runs on one of the actor's threads while ``progress`` and ``cancel`` answer
    on others (the actor is created with a few threads for this)."""

    def __init__(self, name: str, torch_threads: int | None = None) -> None:
        import torch

        if torch_threads:
            torch.set_num_threads(torch_threads)  # workers sharing a machine must not oversubscribe its cores
        vram = torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else 0
        host = socket.gethostname()
        self.info = WorkerInfo(f"{name}@{host}:{os.getpid()}", name, host, os.getpid(), int(vram))
        self.name = self.info.name
        self.registry = NodeRegistry.default()
        self.engine = Engine(self.registry)
        self._lock = threading.Lock()
        self._progress = Progress(self.name, 0)
        self._preview: np.ndarray | None = None  # the newest whole-clip preview, shrunk only when sent
        self._preview_sent = 0.0
        self._step_at = 0.0
        self._step_seconds = 0.0
        self._token: CancelToken | None = None
        self._job = 0
        self._cancelled = False

    def identity(self) -> tuple[str, int]:
        return self.name, os.getpid()

    def describe(self) -> WorkerInfo:
        return self.info

    def progress(self, preview_every: float = PREVIEW_EVERY_S) -> Progress:
        """The current job's progress, with its newest preview when one came since the last sent and at least
        ``preview_every`` seconds (never under 0.5) have passed since then."""
        with self._lock:
            state, raw = replace(self._progress, step_seconds=self._step_seconds), self._preview
            now = time.monotonic()
            if raw is None or state.index == 0 or now - self._preview_sent < max(PREVIEW_EVERY_S, preview_every):
                return state
            self._preview, self._preview_sent = None, now
        return replace(state, preview=shrink(raw))

    def cancel(self) -> None:
        """Stop the running job at its next step, and refuse jobs until ``resume``."""
        with self._lock:
            self._cancelled = True
            if self._token is not None:
                self._token.cancel()

    def stop(self, index: int) -> bool:
        """Stop the running job at its next step if it is job ``index`` (one job of the queue cancelled)."""
        with self._lock:
            if self._token is None or self._job != index:
                return False
            self._token.cancel()
            return True

    def resume(self) -> None:
        with self._lock:
            self._cancelled = False

    def render(self, data: dict[str, Any]) -> dict[str, Any]:
        """Render one job (``Job.to_dict()``). Returns plain data: ``status`` ok | failed | cancelled, the
        ``files`` each writer node wrote ({node id: {suffix: bytes}}), unsigned, with ``signing`` ({node id:
        what sign_mp4 was asked}) for the head to sign them, ``message``, ``seconds``, ``worker``."""
        from studio.farm.placing import signing_to_data
        from studio.media.provenance import DeferredSigning, signing_deferred

        started = time.perf_counter()
        token = CancelToken()
        scratch = Path(tempfile.mkdtemp(prefix="studio-farm-"))
        deferred: dict[str, DeferredSigning] = {}
        try:
            job = Job.from_dict(data)
            with self._lock:
                if self._cancelled:
                    token.cancel()
                self._token, self._job = token, job.index
                self._progress, self._preview = Progress(self.name, job.index), None
                self._step_at, self._step_seconds = 0.0, 0.0
            graph, policy = job.build(self.registry)
            writers = writer_nodes(graph, self.registry)
            # Each writer writes into the scratch folder, under a name with its own suffix (the format check
            # reads it); the head decides the real name and version.
            chosen = {nid: scratch / nid / Path(str(policy.chosen.get(nid) or graph.nodes[nid].params.get("path")
                                                    or "clip.mp4")).name for nid in writers}
            local = OutputPolicy(chosen=chosen, overwrite=False, draft=policy.draft)

            def collect(destination: Path, request: DeferredSigning) -> None:
                deferred[destination.parent.name] = request  # the scratch folder is named after its writer

            with signing_deferred(collect):
                result = self.engine.run(graph, listener=self._listen(job.index), cancel=token,
                                         base_dir=job.base_dir, outputs=local)
            files: dict[str, dict[str, bytes]] = {}
            if result.ok:
                for nid in writers:
                    folder = scratch / nid
                    files[nid] = {p.suffix: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()
                                  and not p.name.startswith(".")} if folder.is_dir() else {}
            message = "; ".join(f"node '{n}': {m}" for n, m in result.failed.items())
            return {"status": result.status, "files": files, "message": message, "worker": self.name,
                    "host": self.info.host, "worker_id": self.info.worker_id,
                    "signing": {nid: signing_to_data(r) for nid, r in deferred.items()},
                    "seconds": time.perf_counter() - started, "graph_hash": result.graph_hash}
        except StudioError as exc:  # the job's own fault (a snapshot that does not load here): no retry
            return {"status": "failed", "files": {}, "message": str(exc), "worker": self.name,
                    "seconds": time.perf_counter() - started}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            with self._lock:
                self._token, self._job, self._preview = None, 0, None
                self._progress = Progress(self.name, 0)

    def _listen(self, index: int):
        last = [0.0]

        def listener(event) -> None:
            if not isinstance(event, NodeStarted | NodeProgress):
                return
            now = time.monotonic()
            if isinstance(event, NodeProgress):
                with self._lock:  # every step: the newest preview and the step's duration are never throttled
                    if event.preview is not None:
                        self._preview = event.preview  # kept by reference: shrunk only if the head asks
                    if self._step_at and event.total > 1:
                        self._step_seconds = now - self._step_at
                    self._step_at = now
            done = isinstance(event, NodeProgress) and event.step >= event.total
            if isinstance(event, NodeProgress) and now - last[0] < PROGRESS_EVERY_S and not done:
                return  # throttled: a 500-step render does not rebuild its progress 500 times a second
            last[0] = now
            step, total, message = ((event.step, event.total, event.message) if isinstance(event, NodeProgress)
                                    else (0, 0, event.reason))
            with self._lock:
                if isinstance(event, NodeStarted):
                    self._step_at, self._step_seconds = 0.0, 0.0
                self._progress = Progress(self.name, index, event.node_id, step, total, message)

        return listener
