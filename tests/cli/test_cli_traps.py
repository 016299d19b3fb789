"""`studio` without a display and a mistyped subcommand each say one sentence and exit non-zero.

Without a display Qt aborts the whole process (rc 134), so the editor paths run in a child process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from studio.cli import display_problem, main

NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def studio(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in NO_DISPLAY} | env
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], env=environ, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux can lack a display")
def test_no_display_is_one_sentence_not_an_abort(tmp_path):
    done = studio()
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "error: no display: set DISPLAY, or use `studio render GRAPH`"
    # a graph file still means "the editor on this file": it reaches the same check, not "unknown command"
    graph = tmp_path / "g.studio.json"
    done = studio(str(graph))
    assert done.returncode == 1 and "no display" in done.stderr and "unknown command" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X sockets are a Linux matter here")
def test_a_display_nobody_answers_on_is_named(tmp_path):
    done = studio(DISPLAY=":87")
    assert done.returncode == 1
    assert "nothing answers on DISPLAY=:87" in done.stderr and "Traceback" not in done.stderr


def test_display_problem_trusts_wayland_and_a_chosen_platform():
    assert display_problem({}, "linux") is not None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert display_problem({"DISPLAY": "remote-host:10.0"}, "linux") is None  # not probed


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["rendr", "x.studio.json"], "unknown command 'rendr': did you mean 'render'?"),
        (["valdate"], "unknown command 'valdate': did you mean 'validate'?"),
        (["verfy", "clip.mp4"], "did you mean 'verify'?"),
        (["frobnicate"], "unknown command 'frobnicate': the commands are render, validate"),
    ],
)
def test_a_mistyped_command_names_the_closest_one(capsys, argv, expected):
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert expected in err and "Traceback" not in err


def test_a_finished_render_exits_at_once_with_its_code_and_its_output_flushed(tmp_path):
    import subprocess
    import sys

    missing = str(tmp_path / "missing.studio.json")
    code = f"import sys; sys.argv = ['studio', 'render', {missing!r}]; from studio.cli import entry; entry()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "missing.studio.json" in done.stderr  # the message is not lost to _exit
