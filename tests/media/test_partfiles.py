"""Leftover part files: a killed export's hidden files are swept by the next export to that folder, and
nothing that is not ours is ever touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from studio.media import partfiles
from studio.media.export import ExportOptions, export_clip
from tests.media.clips import natural_clip


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_names_round_trip_and_record_the_writer():
    suffix = partfiles.part_suffix("part", ".mp4")
    assert suffix == f".{os.getpid()}.part.mp4"
    assert partfiles.parse(f".clip.mp4.ab_c12z9{suffix}") == ("clip.mp4", os.getpid())
    assert partfiles.parse(".my clip.v2.mp4.k3j4h5g6.unsigned.mkv") == ("my clip.v2.mp4", None)  # before PIDs
    for name in (
        "clip.mp4",
        ".clip.mp4",
        ".clip.mp4.part",
        "clip.mp4.ab_c12z9.part.mp4",
        ".clip.mp4.short.part.mp4",
        ".clip.mp4.abcdefgh.part.mov",
        ".clip.mp4.abcdefgh.partial.mp4",
        ".notes.abcdefgh.part.mp4.txt",
    ):
        assert partfiles.parse(name) is None, name
    with pytest.raises(ValueError):
        partfiles.part_suffix("temp", ".mp4")


def test_sweep_removes_only_stale_files_of_ours(tmp_path):
    gone, now = dead_pid(), time.time()
    old = now - 2 * partfiles.STALE_AFTER_S
    files = {
        "dead writer": f".a.mp4.abcdefgh.{gone}.part.mp4",
        "dead writer, scratch": f".a.mp4.ijklmnop.{gone}.unsigned.mp4",
        "no pid, old": ".b.mp4.qrstuvwx.part.mp4",
        "live writer (us), old": f".c.mp4.abcdefgh.{os.getpid()}.part.mp4",
        "live writer (parent), old": f".c.mp4.abcdefg1.{os.getppid()}.part.webm",
        "no pid, fresh": ".d.mp4.zzzzzzzz.part.mkv",
        "user file": "holiday.mp4",
        "user hidden file, old": ".holiday.mp4.swp",
        "user file that looks close, old": ".e.mp4.abcdefgh.part.mp4.bak",
    }
    for name in files.values():
        (tmp_path / name).write_bytes(b"x")
    for key in (
        "no pid, old",
        "live writer (us), old",
        "live writer (parent), old",
        "user hidden file, old",
        "user file that looks close, old",
    ):
        os.utime(tmp_path / files[key], (old, old))
    folder = tmp_path / f".f.mp4.abcdefgh.{gone}.part.mp4"  # a folder with our name: not a file we wrote
    folder.mkdir()
    link = tmp_path / f".g.mp4.abcdefgh.{gone}.part.mp4"
    link.symlink_to(tmp_path / "holiday.mp4")

    removed = {p.name for p in partfiles.sweep(tmp_path, now=now)}
    assert removed == {files["dead writer"], files["dead writer, scratch"], files["no pid, old"]}
    left = {p.name for p in tmp_path.iterdir()}
    assert left == (set(files.values()) - removed) | {folder.name, link.name}
    assert (tmp_path / "holiday.mp4").read_bytes() == b"x"
    assert partfiles.sweep(tmp_path / "missing") == []


def test_an_export_sweeps_its_folder_and_names_its_parts_with_its_pid(tmp_path, monkeypatch):
    leftover = tmp_path / f".old.mp4.abcdefgh.{dead_pid()}.part.mp4"
    leftover.write_bytes(b"half a video")
    seen: list[str] = []

    def progress(done, total):
        if done == 1:
            seen.extend(p.name for p in tmp_path.iterdir())

    export_clip(
        natural_clip(6, 64, 64, seed=1),
        24,
        tmp_path / "new.mp4",
        options=ExportOptions(sign=False),
        on_progress=progress,
    )
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["new.mp4"]
    parts = [partfiles.parse(name) for name in seen if name != "new.mp4"]
    assert parts == [("new.mp4", os.getpid())]
