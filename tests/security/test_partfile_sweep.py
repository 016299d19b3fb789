"""Attacks on the part-file sweep: a live export's files must survive a sweep from anywhere, whatever PID
their names carry (another container's PIDs mean nothing here), and only abandoned old ones go."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio import locks
from studio.media import partfiles

ROOT = Path(__file__).resolve().parents[2]
OLD = 2 * partfiles.STALE_AFTER_S

# A writer in another process: holds the lock on each part file named in argv (creating one with our own
# naming when the argument is a folder), prints the names, and dies by SIGKILL when a line arrives.
WRITER = """
import contextlib, os, signal, sys, tempfile
from studio.media import partfiles
with contextlib.ExitStack() as stack:
    names = []
    for arg in sys.argv[1:]:
        if os.path.isdir(arg):
            fd, arg = tempfile.mkstemp(prefix=".clip.mp4.", suffix=partfiles.part_suffix("part", ".mp4"), dir=arg)
            os.close(fd)
        stack.enter_context(partfiles.hold(arg))
        names.append(os.path.basename(arg))
    print(os.getpid(), *names, flush=True)
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _start_writer(args: list[str], prefix: list[str] | None = None) -> tuple[subprocess.Popen, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([*(prefix or []), sys.executable, "-c", WRITER, *args], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert line, "the writer did not start"
    return proc, line


def _kill(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=10)


def _age(path: Path) -> None:
    old = time.time() - OLD
    os.utime(path, (old, old))


def test_a_held_part_file_survives_whatever_pid_its_name_carries(tmp_path):
    space, gone = locks.pid_space(), _dead_pid()
    other = "0123abcd" if space != "0123abcd" else "4567ef01"
    names = [
        f".a.mp4.abcdefgh.{gone}-{space}.part.mp4",  # its PID is unknown here
        f".b.mp4.abcdefgh.{gone}-{other}.part.mp4",  # another container's writer
        f".c.mp4.abcdefgh.{os.getpid()}-{other}.unsigned.mp4",  # a PID alive here for another reason
        f".d.mp4.abcdefgh.{gone}.part.webm",  # an older name: PID only
        ".e.mp4.abcdefgh.part.mkv",  # no PID at all
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"half a video")
    writer, _ = _start_writer([str(tmp_path / n) for n in names])
    try:
        for name in names:
            _age(tmp_path / name)  # unchanged for two hours: a paused export, say
        assert partfiles.stale_parts(tmp_path)  # by name and age they look abandoned...
        assert partfiles.sweep(tmp_path) == []  # ...but a live process holds them
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    finally:
        _kill(writer)
    assert writer.returncode == -9  # killed, not closed: the kernel dropped its locks
    assert sorted(p.name for p in partfiles.sweep(tmp_path)) == sorted(names)
    assert list(tmp_path.iterdir()) == []


def test_only_old_abandoned_part_files_are_swept(tmp_path):
    fresh = tmp_path / f".a.mp4.abcdefgh.{_dead_pid()}.part.mp4"
    old = tmp_path / f".b.mp4.abcdefgh.{_dead_pid()}.part.mp4"
    for path in (fresh, old):
        path.write_bytes(b"x")
    _age(old)
    assert partfiles.sweep(tmp_path) == [old]
    assert fresh.exists()  # a writer in another container may be on its first frames: wait an hour
    assert partfiles.sweep(tmp_path, now=time.time() + OLD) == [fresh]


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unprivileged user and PID namespaces (unshare)")
def test_a_writer_in_another_container_running_as_pid_1_is_not_swept(tmp_path):
    # a folder both "containers" see; the writer names its part file itself, and its PID there is 1
    prefix = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]
    writer, (pid, name) = _start_writer([str(tmp_path)], prefix)
    try:
        assert pid == "1" and partfiles.parse(name)[1] == 1
        assert partfiles.writer_space(name) not in (None, locks.pid_space())  # its PIDs are not ours
        _age(tmp_path / name)
        assert partfiles.sweep(tmp_path) == [] and (tmp_path / name).exists()
    finally:
        _kill(writer)
    assert partfiles.sweep(tmp_path) == [tmp_path / name]
