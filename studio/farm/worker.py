"""A farm worker: Studio's own engine in a long-lived process (a Ray actor), rendering one job at a time.

The engine, and with it the output cache that keeps loaded models, lives as long as the worker: a model loads
once per worker, not once per job. A job's clips are written into a scratch folder of the worker and sent back
as bytes; the head alone places them in the output folder, so a job retried after its worker died can never
leave two copies behind. Nothing here imports Ray: the head wraps this class as an actor.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine import CancelToken, Engine
from studio.engine.events import NodeProgress, NodeStarted
from studio.engine.jobs import Job, writer_nodes
from studio.engine.outputs import OutputPolicy
from studio.errors import StudioError
from studio.graph import NodeRegistry

PROGRESS_EVERY_S = 0.2  # the head polls at most this often per worker: 16 workers never flood a front end


@dataclass(frozen=True)
class Progress:
    """Where a worker's current job stands: node ``node_id`` at ``step`` of ``total``."""

    worker: str
    index: int  # the job's index in its batch; 0 when idle
    node_id: str = ""
    step: int = 0
    total: int = 0
    message: str = ""


class RenderWorker:
    """Renders Jobs. ``render`` runs on one of the actor's threads while ``progress`` and ``cancel`` answer
    on others (the actor is created with a few threads for this)."""

    def __init__(self, name: str, torch_threads: int | None = None) -> None:
        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)  # workers sharing a machine must not oversubscribe its cores
        self.name = f"{name}@{socket.gethostname()}:{os.getpid()}"
        self.registry = NodeRegistry.default()
        self.engine = Engine(self.registry)
        self._lock = threading.Lock()
        self._progress = Progress(self.name, 0)
        self._token: CancelToken | None = None
        self._cancelled = False

    def identity(self) -> tuple[str, int]:
        return self.name, os.getpid()

    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    def cancel(self) -> None:
        """Stop the running job at its next step, and refuse jobs until ``resume``."""
        with self._lock:
            self._cancelled = True
            if self._token is not None:
                self._token.cancel()

    def resume(self) -> None:
        with self._lock:
            self._cancelled = False

    def render(self, data: dict[str, Any]) -> dict[str, Any]:
        """Render one job (``Job.to_dict()``). Returns plain data: ``status`` ok | failed | cancelled, the
        ``files`` each writer node wrote ({node id: {suffix: bytes}}), ``message``, ``seconds``, ``worker``."""
        started = time.perf_counter()
        token = CancelToken()
        with self._lock:
            if self._cancelled:
                token.cancel()
            self._token = token
        scratch = Path(tempfile.mkdtemp(prefix="studio-farm-"))
        try:
            job = Job.from_dict(data)
            with self._lock:
                self._progress = Progress(self.name, job.index)
            graph, policy = job.build(self.registry)
            writers = writer_nodes(graph, self.registry)
            # Each writer writes into the scratch folder, under a name with its own suffix (the format check
            # reads it); the head decides the real name and version.
            chosen = {nid: scratch / nid / Path(str(policy.chosen.get(nid) or graph.nodes[nid].params.get("path")
                                                    or "clip.mp4")).name for nid in writers}
            local = OutputPolicy(chosen=chosen, overwrite=False, draft=policy.draft)
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
                    "seconds": time.perf_counter() - started, "graph_hash": result.graph_hash}
        except StudioError as exc:  # the job's own fault (a snapshot that does not load here): no retry
            return {"status": "failed", "files": {}, "message": str(exc), "worker": self.name,
                    "seconds": time.perf_counter() - started}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            with self._lock:
                self._token = None
                self._progress = Progress(self.name, 0)

    def _listen(self, index: int):
        last = [0.0]

        def listener(event) -> None:
            if isinstance(event, NodeStarted | NodeProgress):
                now = time.monotonic()
                done = isinstance(event, NodeProgress) and event.step >= event.total
                if isinstance(event, NodeProgress) and now - last[0] < PROGRESS_EVERY_S and not done:
                    return  # throttled here too: a 500-step render does not take the lock 500 times a second
                last[0] = now
                step, total, message = ((event.step, event.total, event.message) if isinstance(event, NodeProgress)
                                        else (0, 0, event.reason))
                with self._lock:
                    self._progress = Progress(self.name, index, event.node_id, step, total, message)

        return listener
