"""Leftover part files: a killed export's hidden files are swept by a later export to that folder once they
are an hour old and no live writer holds or names them, and nothing that is not ours is ever touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from studio import locks
from studio.media import partfiles
from studio.media.export import ExportOptions, export_clip
from tests.media.clips import natural_clip


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_names_round_trip_and_record_the_writer():
    suffix = partfiles.part_suffix("part", ".mp4")
    space = locks.pid_space()
    if sys.platform == "linux":
        assert len(space) == 8  # the boot id and the PID namespace are known
    assert suffix == f".{os.getpid()}{'-' + space if space else ''}.part.mp4"
    assert partfiles.parse(f".clip.mp4.ab_c12z9{suffix}") == ("clip.mp4", os.getpid())
    assert partfiles.writer_space(f".clip.mp4.ab_c12z9{suffix}") == space
    assert partfiles.parse(".my clip.v2.mp4.k3j4h5g6.unsigned.mkv") == ("my clip.v2.mp4", None)  # before PIDs
    assert partfiles.parse(".c.mp4.abcdefgh.123.part.mp4") == ("c.mp4", 123)  # before PID spaces
    assert partfiles.writer_space(".c.mp4.abcdefgh.123.part.mp4") is None
    # eight hex characters without a PID are the random part of an old name, never a space tag
    assert partfiles.parse(".c.mp4.abcdefgh.0123abcd.part.mp4") == ("c.mp4.abcdefgh", None)
    for name in (
        "clip.mp4",
        ".clip.mp4",
        ".clip.mp4.part",
        "clip.mp4.ab_c12z9.part.mp4",
        ".clip.mp4.short.part.mp4",
        ".clip.mp4.abcdefgh.part.mov",
        ".clip.mp4.abcdefgh.partial.mp4",
        ".notes.abcdefgh.part.mp4.txt",
        ".clip.mp4.abcdefgh.12-XYZ.part.mp4",
        ".clip.mp4.abcdefgh.-0123abcd.part.mp4",
    ):
        assert partfiles.parse(name) is None, name
    with pytest.raises(ValueError):
        partfiles.part_suffix("temp", ".mp4")


def test_sweep_removes_only_old_files_of_ours_that_no_live_writer_names(tmp_path):
    gone, now, space = dead_pid(), time.time(), locks.pid_space()
    old = now - 2 * partfiles.STALE_AFTER_S
    other = "0123abcd" if space != "0123abcd" else "4567ef01"  # another container's PID space
    files = {
        "dead writer, old": f".a.mp4.abcdefgh.{gone}-{space}.part.mp4",
        "dead writer, scratch, old": f".a.mp4.ijklmnop.{gone}-{space}.unsigned.mp4",
        "dead writer, fresh": f".a.mp4.ijklmnoq.{gone}-{space}.part.mp4",
        "no pid, old": ".b.mp4.qrstuvwx.part.mp4",
        "no pid, fresh": ".d.mp4.zzzzzzzz.part.mkv",
        "live writer (us), old": f".c.mp4.abcdefgh.{os.getpid()}-{space}.part.mp4",
        "untagged live pid (parent), old": f".c.mp4.abcdefg1.{os.getppid()}.part.webm",
        "other space, pid meaningless here, old": f".c.mp4.abcdefg2.{os.getppid()}-{other}.part.mp4",
        "other space, fresh": f".c.mp4.abcdefg3.{gone}-{other}.part.mp4",
        "user file": "holiday.mp4",
        "user hidden file, old": ".holiday.mp4.swp",
        "user file that looks close, old": ".e.mp4.abcdefgh.part.mp4.bak",
    }
    for name in files.values():
        (tmp_path / name).write_bytes(b"x")
    for key, name in files.items():
        if key.endswith(", old"):
            os.utime(tmp_path / name, (old, old))
    folder = tmp_path / f".f.mp4.abcdefgh.{gone}.part.mp4"  # a folder with our name: not a file we wrote
    folder.mkdir()
    os.utime(folder, (old, old))
    link = tmp_path / f".g.mp4.abcdefgh.{gone}.part.mp4"
    link.symlink_to(tmp_path / "holiday.mp4")
    os.utime(link, (old, old), follow_symlinks=False)

    removed = {p.name for p in partfiles.sweep(tmp_path, now=now)}
    assert removed == {files[k] for k in ("dead writer, old", "dead writer, scratch, old", "no pid, old",
                                          "other space, pid meaningless here, old")}
    left = {p.name for p in tmp_path.iterdir()}
    assert left == (set(files.values()) - removed) | {folder.name, link.name}
    assert (tmp_path / "holiday.mp4").read_bytes() == b"x"
    assert partfiles.sweep(tmp_path / "missing") == []


def test_a_held_part_file_is_kept_and_freed_when_released(tmp_path):
    old = time.time() - 2 * partfiles.STALE_AFTER_S
    part = tmp_path / f".a.mp4.abcdefgh.{dead_pid()}-0123abcd.part.mp4"
    part.write_bytes(b"x")
    os.utime(part, (old, old))
    with partfiles.hold(part) as held:
        assert held == part
        assert partfiles.sweep(tmp_path) == [] and part.exists()
    assert partfiles.sweep(tmp_path) == [part] and not part.exists()


def test_an_export_sweeps_its_folder_and_names_its_parts_with_its_pid(tmp_path, monkeypatch):
    leftover = tmp_path / f".old.mp4.abcdefgh.{dead_pid()}.part.mp4"
    leftover.write_bytes(b"half a video")
    old = time.time() - 2 * partfiles.STALE_AFTER_S
    os.utime(leftover, (old, old))
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
