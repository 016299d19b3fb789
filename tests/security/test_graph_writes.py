"""Attacks by a shared graph on the user's files: a graph writes only inside its output folder, never replaces a
file Studio did not write, and numbers its outputs instead of overwriting them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from studio.cli import main
from studio.engine import Engine
from studio.engine.outputs import OutputPolicy
from studio.graph import Graph, NodeRegistry, ParamSpec, PortSpec, load_graph, node, save_graph, validate
from studio.media.export import ExportOptions, export_clip
from studio.media.outputs import studio_kind
from studio.values import Generation, Video

HOSTILE_NAMES = [
    "~/.bashrc",
    "~root/.profile",
    "/etc/passwd",
    "/tmp/x.mp4",
    "../x.mp4",
    "renders/../../x.mp4",
    "a/../../x.mp4",
    "..\\..\\x.mp4",
    "C:\\Users\\me\\x.mp4",
    "C:x.mp4",
    "\\\\server\\share\\x.mp4",
    "clip\x1b[2J.mp4",
    "clip\n.mp4",
    "folder/",
    ".",
    "x" * 2000 + ".mp4",
]


@node("test.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO")],
      params=[ParamSpec("seed", "int", 0, minimum=0, maximum=1000)])
def clip(ctx, seed):
    rng = np.random.default_rng(seed)
    return Video(rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8), 8.0, Generation(model="test", seed=seed))


@pytest.fixture(scope="module")
def registry():
    reg = NodeRegistry.default()
    reg.register(clip)
    return reg


def writer_graph(registry, path: str, kind: str = "studio.Export", seed: int = 0, **params) -> Graph:
    g = Graph()
    g.add_node(registry.get("test.Clip"), "clip", params={"seed": seed})
    g.add_node(registry.get(kind), "out", params={"path": path, **params})
    g.connect("clip", "video", "out", "video")
    return g


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("kind", ["studio.Export", "studio.SaveVideo"])
def test_validate_refuses_a_name_outside_the_output_folder(registry, kind, name):
    problems = validate(writer_graph(registry, name, kind), registry)
    assert [p.node_id for p in problems] == ["out"], problems
    assert problems[0].where == "parameter 'path'"
    assert any(w in problems[0].message for w in ("output folder", "characters long", "control character"))


@pytest.mark.parametrize("name", ["~/.bashrc", "../victim.mp4", "/tmp/abs.mp4"])
def test_a_render_refuses_it_too_and_the_file_is_untouched(registry, tmp_path, monkeypatch, name):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    victim = home / ".bashrc"
    victim.write_text("export PATH=...\n")
    (tmp_path / "victim.mp4").write_text("someone's file")
    project = tmp_path / "project"
    project.mkdir()
    result = Engine(registry).run(writer_graph(registry, name), base_dir=project)
    assert result.status == "failed"
    assert "output folder" in result.failed["out"]
    assert victim.read_text() == "export PATH=...\n"
    assert (tmp_path / "victim.mp4").read_text() == "someone's file"


def test_studio_validate_says_which_node(tmp_path, capsys):
    doc = json.loads((Path(__file__).parents[2] / "resources/examples/first-clip.studio.json").read_text())
    for entry in doc["nodes"]:
        if entry["type"] == "studio.Export":
            entry["params"]["path"] = "~/.bashrc"
    path = tmp_path / "shared.studio.json"
    path.write_text(json.dumps(doc))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "node 'export', parameter 'path': '~/.bashrc' names a home folder" in out
    assert main(["render", str(path), "-q"]) == 2
    assert "home folder" in capsys.readouterr().err


def test_a_link_inside_the_output_folder_leading_out_is_refused(registry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "project"
    (project / "renders").mkdir(parents=True)
    (project / "renders" / "takes").symlink_to(outside, target_is_directory=True)
    result = Engine(registry).run(writer_graph(registry, "takes/x.mp4"), base_dir=project)
    assert result.status == "failed" and "is a link" in result.failed["out"]
    (project / "renders" / "x.mp4").symlink_to(outside / "x.mp4")
    result = Engine(registry).run(writer_graph(registry, "x.mp4"), base_dir=project)
    assert result.status == "failed" and "is a link" in result.failed["out"]
    assert list(outside.iterdir()) == []


def test_an_output_folder_that_is_a_link_beside_a_downloaded_graph_is_refused(registry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "download"
    project.mkdir()
    (project / "renders").symlink_to(outside, target_is_directory=True)
    result = Engine(registry).run(writer_graph(registry, "x.mp4"), base_dir=project)
    assert result.status == "failed" and "is a link" in result.failed["out"]
    assert list(outside.iterdir()) == []


def test_names_resolve_inside_renders_beside_the_graph(registry, tmp_path):
    result = Engine(registry).run(writer_graph(registry, "takes/shot.mp4"), base_dir=tmp_path)
    assert result.ok, result.failed
    written = tmp_path / "renders" / "takes" / "shot.mp4"
    assert result.outputs["out"]["path"] == str(written)
    assert studio_kind(written) == "full"


def test_outputs_are_versioned_never_overwritten(registry, tmp_path):
    engine = Engine(registry)
    first = engine.run(writer_graph(registry, "clip.mp4", seed=1), base_dir=tmp_path)
    clip_path = tmp_path / "renders" / "clip.mp4"
    before = clip_path.read_bytes()
    second = engine.run(writer_graph(registry, "clip.mp4", seed=2), base_dir=tmp_path)
    third = engine.run(writer_graph(registry, "clip.mp4", kind="studio.SaveVideo", seed=3), base_dir=tmp_path)
    assert [r.outputs["out"]["path"] for r in (first, second, third)] == [
        str(tmp_path / "renders" / n) for n in ("clip.mp4", "clip_0002.mp4", "clip_0003.mp4")
    ]
    assert clip_path.read_bytes() == before
    # nothing changed: the export is cached, no new version
    again = engine.run(writer_graph(registry, "clip.mp4", kind="studio.SaveVideo", seed=3), base_dir=tmp_path)
    assert again.cached == ["clip", "out"]
    assert sorted(p.name for p in (tmp_path / "renders").iterdir() if p.is_file()) == [
        "clip.mp4", "clip_0002.mp4", "clip_0003.mp4"]
    # the written file deleted: the next render writes it again
    (tmp_path / "renders" / "clip_0003.mp4").unlink()
    again = engine.run(writer_graph(registry, "clip.mp4", kind="studio.SaveVideo", seed=3), base_dir=tmp_path)
    assert again.reasons["out"] == "the file it wrote last time is gone"
    assert (tmp_path / "renders" / "clip_0003.mp4").exists()


def test_overwrite_replaces_only_studios_own_outputs(registry, tmp_path):
    engine = Engine(registry)
    engine.run(writer_graph(registry, "clip.mp4", seed=1), base_dir=tmp_path)
    ours = tmp_path / "renders" / "clip.mp4"
    before = ours.read_bytes()
    replaced = engine.run(writer_graph(registry, "clip.mp4", seed=2), base_dir=tmp_path,
                          outputs=OutputPolicy(overwrite=True))
    assert replaced.outputs["out"]["path"] == str(ours) and ours.read_bytes() != before
    foreign = tmp_path / "renders" / "notes.mp4"
    foreign.write_text("my notes, not a clip")
    refused = engine.run(writer_graph(registry, "notes.mp4", seed=2), base_dir=tmp_path,
                         outputs=OutputPolicy(overwrite=True))
    assert refused.status == "failed" and "is not a file Studio wrote" in refused.failed["out"]
    assert foreign.read_text() == "my notes, not a clip"
    assert not (tmp_path / "renders" / "notes_0002.mp4").exists()


def test_a_draft_never_replaces_a_full_render(registry, tmp_path):
    engine = Engine(registry)
    engine.run(writer_graph(registry, "clip.mp4", seed=1), base_dir=tmp_path)
    full = tmp_path / "renders" / "clip.mp4"
    before = full.read_bytes()
    draft = engine.run(writer_graph(registry, "clip.mp4", seed=2), base_dir=tmp_path,
                       outputs=OutputPolicy(draft=True, overwrite=True))
    assert draft.outputs["out"]["path"] == str(tmp_path / "renders" / "clip_draft.mp4")
    assert studio_kind(tmp_path / "renders" / "clip_draft.mp4") == "draft"
    # even a person's own -o with --overwrite: a draft takes a new version beside the full render
    chosen = engine.run(writer_graph(registry, "clip.mp4", seed=3), base_dir=tmp_path,
                        outputs=OutputPolicy(draft=True, overwrite=True, chosen={"out": full}))
    assert chosen.outputs["out"]["path"] == str(tmp_path / "renders" / "clip_0002.mp4")
    assert full.read_bytes() == before


def test_two_renders_to_one_name_at_once_get_two_versions(tmp_path):
    frames = np.zeros((48, 32, 32, 3), np.uint8)
    results: list[Path] = []
    errors: list[BaseException] = []

    def export(value: int) -> None:
        try:
            results.append(export_clip(frames + value, 8, tmp_path / "same.mp4",
                                       options=ExportOptions(sign=False, watermark=False)).path)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=export, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in results) == ["same.mp4", "same_0002.mp4", "same_0003.mp4", "same_0004.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in results)


def test_cli_output_is_the_persons_choice_and_still_never_replaces_a_foreign_file(tiny_wan, tmp_path, capsys):
    graph = _example_with_model(tiny_wan, tmp_path)
    foreign = tmp_path / "elsewhere" / "mine.mp4"
    foreign.parent.mkdir()
    foreign.write_text("a file of the person's")
    assert main(["render", str(graph), "-q", "-o", str(foreign)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {foreign.with_name('mine_0002.mp4')} (a new version: mine.mp4 exists" in out
    assert foreign.read_text() == "a file of the person's"
    assert main(["render", str(graph), "-q", "-o", str(foreign), "--overwrite"]) == 1
    assert "is not a file Studio wrote" in capsys.readouterr().err
    assert foreign.read_text() == "a file of the person's"
    assert main(["render", str(graph), "-q", "-o", str(tmp_path / "x.otio")]) == 2
    assert "use -o x.mp4" in capsys.readouterr().err
    assert not (tmp_path / "x.otio").exists()


def test_cli_output_on_a_graph_without_an_export_node_is_signed_and_readable(tiny_wan, tmp_path, capsys):
    doc = json.loads(_example_with_model(tiny_wan, tmp_path).read_text())
    doc["nodes"] = [n for n in doc["nodes"] if n["type"] != "studio.Export"]
    doc["links"] = [lk for lk in doc["links"] if lk["to"][0] != "export"]
    path = tmp_path / "noexport.studio.json"
    path.write_text(json.dumps(doc))
    dest = tmp_path / "plain.mp4"
    assert main(["render", str(path), "-q", "-o", str(dest)]) == 0
    capsys.readouterr()
    assert main(["verify", str(dest), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] and report["watermark"]["found"]
    mode = stat.S_IMODE(dest.stat().st_mode)
    assert mode & 0o044 == 0o044, oct(mode)  # readable by others, as the umask says, not 0600


def test_a_timeline_beside_the_clip_never_replaces_one_the_person_made(tiny_wan, tmp_path, capsys):
    graph = _example_with_model(tiny_wan, tmp_path, timeline=True)
    theirs = tmp_path / "cut.otio"
    theirs.write_text("{\"the editor's own timeline\": true}")
    assert main(["render", str(graph), "-q", "-o", str(tmp_path / "cut.mp4")]) == 0
    capsys.readouterr()
    assert theirs.read_text() == "{\"the editor's own timeline\": true}"
    assert (tmp_path / "cut_0002.mp4").exists() and (tmp_path / "cut_0002.otio").exists()
    assert not (tmp_path / "cut.mp4").exists()  # the clip follows its timeline's version


def test_saving_a_graph_keeps_its_permissions(registry, tmp_path):
    path = tmp_path / "private.studio.json"
    save_graph(writer_graph(registry, "clip.mp4"), path, registry)
    os.chmod(path, 0o600)
    graph = load_graph(path, registry)
    graph.set_param("clip", "seed", 5)
    save_graph(graph, path, registry)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_graph(path, registry).nodes["out"].params["path"] == "clip.mp4"  # stored as written


@pytest.fixture
def tiny_mount(tmp_path):
    """A 2 MB file system (root only): where a full or read-only disk can be made for real."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_named_before_the_render_starts(registry, tiny_mount):
    result = Engine(registry).run(writer_graph(registry, "clip.mp4"), base_dir=tiny_mount)
    assert result.status == "failed"
    assert f"no space left on {tiny_mount / 'renders'}" in result.failed["out"]
    assert result.timings == {}  # nothing ran


def test_a_disk_that_fills_during_the_export_is_named_and_leaves_nothing(tiny_mount):
    big = np.random.default_rng(0).integers(0, 255, (60, 256, 256, 3), dtype=np.uint8)
    with pytest.raises(Exception) as caught:
        export_clip(big, 24, tiny_mount / "clip.mp4", options=ExportOptions(sign=False, crf=0))
    assert f"no space left on {tiny_mount}" in str(caught.value)
    assert "UntrackedPointer" not in str(caught.value) and ".part" not in str(caught.value)
    assert list(tiny_mount.iterdir()) == []


def test_a_read_only_destination_is_named(registry, tiny_mount):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_mount)], check=True)
    chosen = tiny_mount / "clip.mp4"
    result = Engine(registry).run(writer_graph(registry, "clip.mp4"), base_dir=tiny_mount.parent,
                                  outputs=OutputPolicy(chosen={"out": chosen}))
    assert result.status == "failed"
    assert f"cannot write to {tiny_mount}: Read-only file system" in result.failed["out"]


def _example_with_model(model_dir: Path, folder: Path, timeline: bool = False) -> Path:
    doc = json.loads((Path(__file__).parents[2] / "resources/examples/first-clip.studio.json").read_text())
    for entry in doc["nodes"]:
        if entry["type"] == "studio.LoadModel":
            entry["params"]["source"] = str(model_dir)
        if entry["type"] == "studio.GenerateVideo":
            entry["params"].update({"steps": 2, "num_frames": 9, "width": 64, "height": 64})
        if entry["type"] == "studio.Export":
            entry["params"]["timeline"] = timeline
    path = folder / "shared.studio.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_mark_survives_signing(tmp_path):
    from studio.media.provenance import Provenance

    frames = np.zeros((8, 32, 32, 3), np.uint8)
    result = export_clip(frames, 8, tmp_path / "signed.mp4", provenance=Provenance("m"))
    assert result.signed and studio_kind(result.path) == "full"
    with av.open(str(result.path)) as container:
        assert container.metadata["comment"] == "studio-output full"


def test_an_example_renders_into_the_default_folder_never_into_studios_resources(registry, studio_home):
    from studio.paths import RESOURCES

    examples = RESOURCES / "examples"
    before = sorted(p.name for p in examples.iterdir())
    result = Engine(registry).run(writer_graph(registry, "clip.mp4"), base_dir=examples)
    assert result.ok, result.failed
    assert result.outputs["out"]["path"] == str(studio_home / "renders" / "clip.mp4")
    assert sorted(p.name for p in examples.iterdir()) == before
