"""An unchanged exporter in a new session (a new Engine) returns the clip an earlier session wrote, instead of
writing another numbered copy; anything that changes the clip, or a clip changed on disk, writes again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Engine
from studio.engine.outputs import OutputPolicy
from studio.graph import Graph, NodeRegistry, ParamSpec, PortSpec, node
from studio.values import Video

CALLS: dict[str, int] = {}


@node("test.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO")],
      params=[ParamSpec("shade", "int", 100, minimum=0, maximum=255)])
def clip(ctx, shade):
    """A small clip whose frames depend on ``shade``: what a sampler would make, without a model."""
    CALLS["clip"] = CALLS.get("clip", 0) + 1
    frames = np.zeros((8, 32, 32, 3), np.uint8)
    frames[:, :, :, 0] = shade
    frames[np.arange(8), :, np.arange(8) * 3, 1] = 255  # a moving line
    return Video(frames, 8.0)


@pytest.fixture(scope="module")
def registry():
    reg = NodeRegistry.default()
    reg.register(clip)
    return reg


def make_graph(registry, shade=100, **export) -> Graph:
    g = Graph()
    g.add_node(registry.get("test.Clip"), "clip", params={"shade": shade})
    g.add_node(registry.get("studio.Export"), "export", params={"path": "shots.mp4", **export})
    g.connect("clip", "video", "export", "video")
    return g


def render(registry, graph, out: Path, **policy):
    result = Engine(registry).run(graph, outputs=OutputPolicy(root=out, **policy))  # a new session each time
    assert result.ok, result.failed
    return result


def clips(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_file())


def test_second_session_returns_the_clip_already_written(registry, tmp_path):
    out = tmp_path / "renders"
    first = render(registry, make_graph(registry), out)
    path = first.outputs["export"]["path"]
    assert Path(path).name == "shots.mp4" and "export" not in first.cached
    stamp = os.stat(path).st_mtime_ns
    CALLS.clear()

    second = render(registry, make_graph(registry), out)
    assert second.outputs["export"]["path"] == path
    assert clips(out) == ["shots.mp4"] and os.stat(path).st_mtime_ns == stamp
    assert second.reasons["export"] == "the same clip is already at shots.mp4"
    # what feeds only that exporter is not made at all (the model would not load)
    assert CALLS == {} and sorted(second.cached) == ["clip", "export"] and second.timings == {}

    # a third session, and the same session again from its memory: still the one file
    engine = Engine(registry)
    for _ in range(2):
        again = engine.run(make_graph(registry), outputs=OutputPolicy(root=out))
        assert again.ok and again.outputs["export"]["path"] == path
    assert clips(out) == ["shots.mp4"]


def test_a_change_that_changes_the_clip_writes_a_new_file(registry, tmp_path):
    out = tmp_path / "renders"
    render(registry, make_graph(registry), out)
    shaded = render(registry, make_graph(registry, shade=30), out)  # upstream parameter
    assert Path(shaded.outputs["export"]["path"]).name == "shots_0002.mp4"
    crf = render(registry, make_graph(registry, crf=30), out)  # an export setting
    assert Path(crf.outputs["export"]["path"]).name == "shots_0003.mp4"
    # each of them is found again in its own later session
    assert Path(render(registry, make_graph(registry, shade=30), out).outputs["export"]["path"]).name \
        == "shots_0002.mp4"
    assert clips(out) == ["shots.mp4", "shots_0002.mp4", "shots_0003.mp4"]


def test_a_deleted_or_changed_clip_is_written_again(registry, tmp_path):
    out = tmp_path / "renders"
    path = Path(render(registry, make_graph(registry), out).outputs["export"]["path"])
    path.unlink()
    again = render(registry, make_graph(registry), out)
    assert Path(again.outputs["export"]["path"]) == path and path.exists() and "export" not in again.cached

    # the same size and time, other bytes (a swapped file): not Studio's clip any more
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    swapped = render(registry, make_graph(registry), out)
    assert Path(swapped.outputs["export"]["path"]).name == "shots_0002.mp4" and "export" not in swapped.cached


def test_overwrite_and_export_again_still_write(registry, tmp_path):
    out = tmp_path / "renders"
    path = Path(render(registry, make_graph(registry), out).outputs["export"]["path"])
    stamp = path.stat().st_mtime_ns
    over = render(registry, make_graph(registry), out, overwrite=True)
    assert Path(over.outputs["export"]["path"]) == path and path.stat().st_mtime_ns != stamp
    assert over.reasons["export"] == "first run" and clips(out) == ["shots.mp4"]
    again = render(registry, make_graph(registry), out, again=True)
    assert Path(again.outputs["export"]["path"]).name == "shots_0002.mp4"
    # the latest write leaves the record a plain render reuses
    plain = render(registry, make_graph(registry), out)
    assert Path(plain.outputs["export"]["path"]).name == "shots_0002.mp4"
    assert clips(out) == ["shots.mp4", "shots_0002.mp4"]


def test_a_new_signing_identity_writes_again(registry, tmp_path, studio_home):
    out = tmp_path / "renders"
    render(registry, make_graph(registry), out)
    signing = Path(studio_home) / "config" / "signing"
    assert signing.is_dir()
    for file in signing.iterdir():
        file.unlink()  # the local identity is made anew on the next export
    again = render(registry, make_graph(registry), out)
    assert Path(again.outputs["export"]["path"]).name == "shots_0002.mp4"


def test_a_file_the_person_chose_leaves_no_records_beside_it(registry, tmp_path):
    desktop = tmp_path / "desktop"
    desktop.mkdir()
    chosen = {"export": desktop / "mine.mp4"}
    render(registry, make_graph(registry), tmp_path / "renders", chosen=chosen)
    second = render(registry, make_graph(registry), tmp_path / "renders", chosen=chosen)
    assert clips(desktop) == ["mine.mp4", "mine_0002.mp4"] and sorted(os.listdir(desktop)) == clips(desktop)
    assert Path(second.outputs["export"]["path"]).parent == desktop
