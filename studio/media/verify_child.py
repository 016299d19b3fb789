"""The child processes `studio verify` reads a file in: a wall-clock limit, a memory limit, no writing.

A file from anyone reaches two large native parsers, c2pa-rs and ffmpeg. Each runs in a child of its
own, so a file that makes one slow, greedy or crash costs that child and nothing else: the parent
kills it at its time limit, the kernel refuses it memory past its limit (RLIMIT_DATA, set after the
child's imports so the budget is for the file alone), and the report says which check was given up
and why. The editor stays up whatever the file does.

Run as ``python -m studio.media.verify_child``: one JSON request on stdin, one JSON answer on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.media.process_memory import data_in_use as _data_in_use
from studio.media.process_memory import resource

_TASKS = ("c2pa", "watermark")
_STDERR_KEEP = 4000


@dataclass(frozen=True)
class ChildLimits:
    """Bounds for one child: wall-clock seconds (the parent kills it then) and MB of memory for the file."""

    seconds: float
    memory_mb: int


@dataclass
class ChildOutcome:
    """What a child gave back: ``answer`` when it finished, else ``problem``, a sentence saying why not."""

    task: str
    answer: dict[str, Any] | None = None
    problem: str | None = None
    seconds: float = 0.0
    resources: dict[str, Any] = field(default_factory=dict)  # peak_mb, memory_limit_mb, ... from the child


class Child:
    """One running child. A thread of ours feeds it, drains its pipes and kills it at its time limit;
    ``outcome()`` waits for that thread (so a caller's Ctrl-C still reaches the caller)."""

    def __init__(self, task: str, args: dict[str, Any], limits: ChildLimits) -> None:
        if task not in _TASKS:
            raise ValueError(f"unknown verify task {task!r}")
        self.task, self.limits = task, limits
        request = {"task": task, "args": args, "memory_mb": limits.memory_mb, "seconds": limits.seconds}
        env = dict(os.environ)
        # The child imports studio the way this process did, installed or not.
        source = str(Path(studio.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
        # One thread each, one malloc arena: thread stacks and arenas count against the memory limit
        # (one arena lets c2pa-rs read a 1 GB clip in 540 MB of address space instead of 660).
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_ARENA_MAX"):
            env[name] = "1"
        self.started = time.monotonic()
        self._outcome = ChildOutcome(task)
        self._waiter: threading.Thread | None = None
        self.process: subprocess.Popen | None = None
        try:
            # -P: the working folder is not put on sys.path, so a folder named "studio" where the person
            # happens to run `studio verify` cannot stand in for ours.
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "studio.media.verify_child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            self._outcome.problem = f"the reader could not start ({exc.strerror})"
            return
        self._waiter = threading.Thread(
            target=self._wait, args=(json.dumps(request).encode(),), name=f"verify-{task}", daemon=True
        )
        self._waiter.start()

    def outcome(self) -> ChildOutcome:
        """Wait for the child (at most its time limit and a little) and say what it gave back."""
        try:
            if self._waiter is not None:
                self._waiter.join()
        except BaseException:  # Ctrl-C while waiting: never leave the child running
            self.kill()
            raise
        return self._outcome

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def _wait(self, request: bytes) -> None:
        result = self._outcome
        try:
            out, err = self.process.communicate(request, timeout=self.limits.seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.communicate()
            result.seconds = time.monotonic() - self.started
            result.problem = f"reading took longer than {self.limits.seconds:g} s"
            return
        except OSError as exc:  # the child died before it read its request
            self.kill()
            self.process.wait()
            result.problem = f"the reader could not start ({exc.strerror})"
            return
        result.seconds = time.monotonic() - self.started
        answer = _parse(out)
        if self.process.returncode == 0 and answer is not None:
            result.resources = answer.pop("_resources", {})
            result.answer = answer
        else:
            result.problem = self._why(self.process.returncode, err)

    def _why(self, code: int, err: bytes) -> str:
        tail = err[-_STDERR_KEEP:].decode("utf-8", "replace")
        if "memory allocation" in tail or "MemoryError" in tail or "Cannot allocate memory" in tail:
            return self.out_of_memory
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            if -code == getattr(signal, "SIGXCPU", -1):
                return "reading used more processor time than allowed"
            return f"the reader crashed ({name})"
        return f"the reader stopped (exit status {code})"

    @property
    def out_of_memory(self) -> str:
        return f"reading needed more than the {self.limits.memory_mb} MB of memory allowed"


def _parse(out: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


# ---- the child side


def _limit(memory_mb: int, seconds: float) -> dict[str, Any]:
    """Apply the limits to this process; returns what is in force, for the report."""
    if resource is None:
        return {}
    base = _data_in_use()
    budget = memory_mb << 20
    # Linux counts the imports' data too; elsewhere allow a typical import footprint on top.
    limit = (base if base is not None else 256 << 20) + budget
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    cpu = int(seconds) + 2  # a backstop: the parent kills on wall time first
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # reading needs no files written
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return {
        "memory_limit_mb": round(limit / 2**20, 1),
        "memory_for_file_mb": memory_mb,
        "cpu_limit_s": cpu,
    }


def _peak_mb() -> float | None:
    """This process's peak resident memory in MB. VmHWM, not ru_maxrss: Linux carries ru_maxrss across
    exec, so a child would report its parent's size at the fork."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def main() -> int:
    sys.dont_write_bytecode = True
    request = json.loads(sys.stdin.read(16 << 20))  # trust anchors ride along: up to 1 MB each
    task, args = request["task"], request["args"]
    from studio.errors import MediaError

    # Import what the task needs before the limit, so the budget is for the file alone.
    if task == "c2pa":
        from studio.media.verify_c2pa import read_credentials as run
    elif task == "watermark":
        import cv2

        cv2.setNumThreads(1)
        from studio.media.verify_watermark import read_watermark as run
    else:
        raise SystemExit(f"unknown task {task!r}")
    resources = _limit(int(request["memory_mb"]), float(request["seconds"]))
    try:
        answer = run(**args)
    except MediaError as exc:
        answer = {"error": exc.message}
    except MemoryError:
        answer = {
            "error": f"reading needed more than the {request['memory_mb']} MB of memory allowed",
            "gave_up": True,
        }
    except Exception as exc:  # noqa: BLE001 - a parser's surprise on a strange file: a sentence, not a traceback
        answer = {"error": f"the file could not be read ({exc.__class__.__name__}: {str(exc)[:300]})"}
    resources["peak_mb"] = _peak_mb()
    answer["_resources"] = resources
    sys.stdout.write(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
