"""File > Export Clip and File > Verify Clip: real renders, real PyAV encodes, real c2pa signing, real widgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from studio.graph import Graph, ParamSpec, PortSpec, node
from studio.media.encode import probe, read_frames
from studio.media.verify import verify_file
from studio.values import Generation, Video
from tests.media.clips import natural_clip
from tests.media.helpers import mdat_offset
from tests.ui.conftest import settle, ui_registry

FRAMES, SIZE, FPS = 24, 96, 24


@node(
    "exporttest.Clip",
    title="Clip",
    category="Test",
    outputs=[PortSpec("video", "VIDEO")],
    params=[ParamSpec("seed", "int", 3, minimum=0, maximum=1000)],
    is_output=True,
)
def clip_node(ctx, seed):
    frames = natural_clip(FRAMES, SIZE, SIZE, seed=seed)
    made = Generation(model="toy-model", prompt="a red square moves right", seed=seed, steps=4)
    return Video(frames, FPS, made)


@pytest.fixture
def registry():
    from nodes.export import export

    registry = ui_registry()
    registry.register(clip_node)
    registry.register(export)
    return registry


def render(window, qtbot) -> None:
    """Render the window's graph for real and wait until its result is in."""

    def mutate(graph: Graph) -> None:
        graph.add_node(window.registry.get("exporttest.Clip"), node_id="clip", position=(0, 0))

    window.session.edit("Add clip", mutate)
    window.render()
    qtbot.waitUntil(lambda: not window.renderer.running, timeout=30_000)
    assert window.renderer.handle.result.ok


def export_and_wait(dialog, qtbot, timeout: int = 60_000) -> None:
    assert dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.running and dialog.close_button.text() == "Close", timeout=timeout)
    settle()


def test_nothing_rendered_says_so_and_cannot_export(window, qtbot):
    window.act_export.trigger()
    dialog = window.export_dialog
    assert dialog.isVisible()
    assert "render the graph" in dialog.summary.text()
    assert not dialog.export_button.isEnabled() and not dialog.start_export()
    assert not dialog.format.isEnabled() and not dialog.destination.isEnabled()
    dialog.reject()


def test_export_dialog_signs_the_last_render_with_the_local_identity(window, qtbot, tmp_path):
    from studio.engine.engine import graph_hash

    render(window, qtbot)
    rendered = graph_hash(window.session.graph)
    window.session.edit("Seed", lambda g: g.set_param("clip", "seed", 9))  # edited after the render
    from studio.ui.shell.shortcuts import action_rows

    assert ("Export Clip", "Ctrl+E") in action_rows(window.all_actions)  # listed in Help > Keyboard Shortcuts
    assert [a for a in window.all_actions if "Ctrl+E" in [k.toString() for k in a.shortcuts()]] == [
        window.act_export
    ]
    window.act_export.trigger()
    dialog = window.export_dialog
    # defaults: MP4, CRF 23, the whole clip, watermarked, signed by Studio's local identity
    assert dialog.format_key == "mp4" and dialog.crf.value() == 23
    assert (dialog.first.value(), dialog.last.value()) == (0, FRAMES - 1)
    assert dialog.signing.currentData() == "local" and dialog.watermark.currentIndex() == 0
    assert f"{FRAMES} frames" in dialog.summary.text() and f"{SIZE}x{SIZE}" in dialog.summary.text()
    dest = tmp_path / "out" / "render.mp4"
    dialog.destination.setText(str(dest))
    progress: list[int] = []
    dialog.progress.valueChanged.connect(progress.append)
    export_and_wait(dialog, qtbot)
    assert dialog.result is not None, dialog.status.text()
    assert "Exported 24 frames" in dialog.status.text() and "signed by" in dialog.status.text()
    assert progress and progress[-1] == 100
    report = verify_file(dest, ["local"])
    assert report.ok and report.trusted and not report.tampered
    assert report.signer == dialog.result.signer
    assert report.generation["prompts"] == ["a red square moves right"]
    assert report.generation["graph_hash"] == rendered  # the graph as it ran, not as edited since
    assert rendered != graph_hash(window.session.graph)
    assert report.watermark.found and report.watermark.matches_manifest
    assert probe(dest).frames == FRAMES
    assert [p.name for p in dest.parent.iterdir()] == ["render.mp4"]  # no part files left behind


def test_range_comes_from_the_timeline_in_and_out_points(window, qtbot, tmp_path):
    docks = window.attach_timeline()
    render(window, qtbot)
    qtbot.waitUntil(lambda: docks.model.count == FRAMES, timeout=10_000)
    docks.model.set_in(5)
    docks.model.set_out(14)
    window.show_export()
    dialog = window.export_dialog
    assert (dialog.first.value(), dialog.last.value()) == (5, 14)
    assert "10 frames" in dialog.range_note.text() and "in and out points" in dialog.range_note.text()
    dialog.last.setValue(13)
    assert dialog.range_note.text() == "9 frames, 0.38 s"  # no longer the timeline's points
    dialog.last.setValue(14)
    dialog.format.setCurrentIndex(1)  # the lossless master: RGB, bit-exact without the watermark
    dialog.watermark.setCurrentIndex(1)
    assert not dialog.signing.isEnabled() and not dialog.crf.isEnabled()
    assert dialog.destination.text().endswith(".mkv")
    dest = tmp_path / "master.mkv"
    dialog.destination.setText(str(dest))
    assert not dialog.timeline.isChecked()  # off until the person asks once; then remembered
    dialog.timeline.setChecked(True)
    export_and_wait(dialog, qtbot)
    assert dialog.result is not None, dialog.status.text()
    assert "not signed" in dialog.status.text()
    assert probe(dest).video_codec == "ffv1"
    expected = natural_clip(FRAMES, SIZE, SIZE, seed=3)[5:15]
    assert np.array_equal(read_frames(dest), expected)
    # the editor timeline beside the master: the 10 exported frames, what made them in its metadata
    assert "Editor timeline: master.otio" in dialog.status.text()
    timeline = otio.adapters.read_from_file(str(tmp_path / "master.otio"))
    assert timeline.duration().to_frames() == 10 and timeline.duration().rate == FPS
    assert list(timeline.metadata["studio"]["prompts"]) == ["a red square moves right"]
    assert timeline.metadata["studio"]["first_frame"] == 5
    dialog.reject()
    window.show_export()
    assert window.export_dialog.timeline.isChecked()
    window.export_dialog.reject()


def long_clip(frames: int = 20_000):
    from studio.ui.dialogs.export_dialog import RenderedClip

    # a long clip without the memory: every frame is the same array
    still = natural_clip(1, 128, 128, seed=1)[0]
    return RenderedClip(Video(np.broadcast_to(still, (frames, 128, 128, 3)), FPS, Generation(model="m")), "clip")


def test_cancel_midway_writes_nothing_and_says_so(qtbot, tmp_path):
    from studio.ui.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(long_clip(), start_dir=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    dest = tmp_path / "long.mp4"
    dialog.destination.setText(str(dest))
    assert dialog.start_export()
    assert dialog.close_button.text() == "Cancel" and not dialog.format.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=30_000)
    import threading

    worker = dialog.job.thread
    assert worker is not threading.current_thread()  # the encode runs off the Qt main thread
    dialog.close_button.click()  # "Cancel": stops the export, keeps the dialog open
    qtbot.waitUntil(lambda: not dialog.running and dialog.close_button.text() == "Close", timeout=30_000)
    settle()
    assert dialog.isVisible()
    assert "cancelled" in dialog.status.text() and "nothing was written" in dialog.status.text()
    assert list(tmp_path.iterdir()) == []
    assert dialog.export_button.isEnabled() and dialog.format.isEnabled()


def test_closing_while_exporting_cancels_then_closes(qtbot, tmp_path):
    from studio.ui.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(long_clip(), start_dir=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.destination.setText(str(tmp_path / "long.mp4"))
    assert dialog.start_export()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=30_000)
    dialog.close()
    assert dialog.isVisible()  # still there until the worker stops
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
    assert not dialog.running and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "problem", ["bad certificate", "unwritable folder", "empty range", "timestamp unreachable", "timestamp not http"]
)
def test_failures_are_a_sentence_not_a_traceback(qtbot, tmp_path, problem):
    from studio.ui.dialogs.export_dialog import ExportDialog

    clip = long_clip(12)
    dialog = ExportDialog(clip, start_dir=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.destination.setText(str(tmp_path / "x.mp4"))
    if problem == "bad certificate":
        (tmp_path / "cert.pem").write_text("not a certificate")
        (tmp_path / "key.pem").write_text("not a key")
        dialog.signing.setCurrentIndex(dialog.signing.findData("files"))
        assert dialog.certificate.isVisibleTo(dialog)
        dialog.certificate.setText(str(tmp_path / "cert.pem"))
        dialog.private_key.setText(str(tmp_path / "key.pem"))
        expected = "certificate chain is not valid PEM"
    elif problem.startswith("timestamp"):
        assert dialog.timestamp.isVisibleTo(dialog)  # with the local identity too
        # a closed port on this machine: the same failure as an authority out of reach, without a network
        url = "http://127.0.0.1:9/" if problem == "timestamp unreachable" else "ftp://timestamps.example"
        dialog.timestamp.setText(url)
        expected = "could not be reached" if problem == "timestamp unreachable" else "is not an http(s) URL"
    elif problem == "unwritable folder":
        (tmp_path / "a-file").write_text("")
        dialog.destination.setText(str(tmp_path / "a-file" / "x.mp4"))
        expected = "cannot write"
    else:
        dialog.first.setValue(8)
        dialog.last.setValue(3)
        expected = "range is empty"
    if problem == "empty range":
        assert not dialog.start_export()
    else:
        export_and_wait(dialog, qtbot)
    text = dialog.status.text()
    assert text.startswith("Export failed:") and expected in text, text
    assert "Traceback" not in text and dialog.status.objectName() == "Problem"
    assert dialog.result is None and not (tmp_path / "x.mp4").exists()


def signed_clip(tmp_path: Path) -> Path:
    from studio.media.export import ExportOptions, export_clip
    from studio.media.provenance import Provenance

    dest = tmp_path / "signed.mp4"
    export_clip(
        natural_clip(24, 128, 128, seed=5),
        FPS,
        dest,
        options=ExportOptions(),
        provenance=Provenance("toy-model", prompts=["a blue circle grows"], seed=9),
    )
    return dest


def open_verify(window, qtbot, monkeypatch, path: Path):
    from studio.ui.dialogs import verify_dialog

    monkeypatch.setattr(verify_dialog, "pick_clip", lambda parent: path)
    window.act_verify.trigger()
    dialog = window.verify_dialog
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.running, timeout=30_000)
    settle()
    return dialog


def rows(dialog) -> dict[str, list[str]]:
    from PySide6.QtWidgets import QFormLayout

    found: dict[str, list[str]] = {}
    for row in range(dialog.form.rowCount()):
        label = dialog.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text().rstrip(":")
        value = dialog.form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget().text()
        found.setdefault(label, []).append(value)
    return found


def test_verify_says_valid_but_not_trusted_until_the_local_authority_is_trusted(
    window, qtbot, monkeypatch, tmp_path
):
    path = signed_clip(tmp_path)
    dialog = open_verify(window, qtbot, monkeypatch, path)
    assert "Valid, signer not trusted" in dialog.banner.text()
    found = rows(dialog)
    from studio.media.signing import local_identity

    assert found["Signer"][0].startswith(local_identity(create=False).subject + " (issued by ")
    assert found["Trust"] == ["signer not trusted (no trust anchor for its issuer)"]
    assert found["Content"] == ["unchanged since signing"]
    assert found["Signature"] == ["valid"]
    assert any("c2pa.created" in a and "trainedAlgorithmicMedia" in a for a in found["Action"])
    assert found["Prompt"] == ["a blue circle grows"] and found["Seed"] == ["9"]
    assert found["Ingredients"] == ["none"]
    assert "watermark found" in found["Watermark"][0] and "matches the credentials" in found["Watermark"][0]
    assert "Problem" not in found  # "untrusted" is said plainly under Trust, not as a problem code
    assert found["Signed at"][0].endswith("UTC (claimed by the signer, not timestamped)")
    dialog.trust.setChecked(True)
    qtbot.waitUntil(
        lambda: dialog.report is not None and dialog.report.trusted and not dialog.running, timeout=30_000
    )
    settle()
    assert "Valid and trusted" in dialog.banner.text()
    assert rows(dialog)["Trust"] == ["trusted"]


def test_verify_shows_a_tampered_file(window, qtbot, monkeypatch, tmp_path):
    path = signed_clip(tmp_path)
    start, size = mdat_offset(path)
    data = bytearray(path.read_bytes())
    data[start + size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    dialog = open_verify(window, qtbot, monkeypatch, path)
    assert "TAMPERED" in dialog.banner.text()
    found = rows(dialog)
    assert found["Content"] == ["TAMPERED: the media no longer matches its signed hash"]
    # Only the pictures changed: the claim signature itself still checks out, and the dialog says so.
    assert found["Signature"] == ["valid"]
    assert any("mismatch" in p for p in found["Problem"])


def test_verify_an_unsigned_file_and_a_file_that_is_not_video(window, qtbot, monkeypatch, tmp_path):
    from studio.media.export import ExportOptions, export_clip

    plain = tmp_path / "plain.mp4"
    export_clip(natural_clip(12, 128, 128, seed=2), FPS, plain, options=ExportOptions(sign=False))
    dialog = open_verify(window, qtbot, monkeypatch, plain)
    assert "No Content Credentials" in dialog.banner.text()
    assert "watermark found" in rows(dialog)["Watermark"][0]
    dialog.reject()

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all")
    from studio.ui.dialogs import verify_dialog

    monkeypatch.setattr(verify_dialog, "pick_clip", lambda parent: junk)
    window.act_verify.trigger()
    other = window.verify_dialog
    qtbot.waitUntil(lambda: not other.running and other.trust.isEnabled(), timeout=30_000)
    settle()
    text = other.banner.text()
    assert "Traceback" not in text and "Cannot verify" in text  # a file that is not a video: said, not shown
    assert "junk.mp4" in text and "not a video file Studio can verify" in text


def test_the_graphs_export_node_sets_the_starting_choices(window, qtbot, tmp_path):
    graph_file = tmp_path / "project" / "film.studio.json"
    graph_file.parent.mkdir()
    (graph_file.parent / "renders" / "out").mkdir(parents=True)  # the node writes in the graph's output folder
    (graph_file.parent / "renders" / "out" / "take.mkv").write_bytes(b"the node's earlier export")
    params = {
        "path": "out/take.mkv",
        "format": "mkv-ffv1",
        "crf": 30,
        "watermark": False,
        "sign": True,
        "certificate": "keys/me.pem",
        "private_key": "keys/me.key",
    }
    window.session.edit(
        "Add export",
        lambda g: g.add_node(window.registry.get("studio.Export"), node_id="export", params=params),
    )
    window.session.path = graph_file
    window.act_export.trigger()
    dialog = window.export_dialog
    assert dialog.format_key == "mkv-ffv1" and dialog.crf.value() == 30
    assert dialog.watermark.currentIndex() == 1 and dialog.signing.currentData() == "files"
    assert dialog.certificate.text() == str(graph_file.parent / "keys" / "me.pem")
    assert dialog.destination.text() == str(
        graph_file.parent / "renders" / "out" / "take_0002.mkv"
    )  # never over the node's file
    dialog.reject()
    window.session.path = None  # an untitled copy (an example): the file stays in the usual export folder
    window.act_export.trigger()
    assert Path(window.export_dialog.destination.text()).parent != graph_file.parent / "renders" / "out"
    assert window.export_dialog.format_key == "mkv-ffv1"
    window.export_dialog.reject()


def test_the_timestamp_field_is_there_only_when_signing(qtbot, tmp_path):
    from studio.ui.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(long_clip(12), start_dir=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    for choice, shown in (("local", True), ("files", True), ("none", False)):
        dialog.signing.setCurrentIndex(dialog.signing.findData(choice))
        assert dialog.timestamp.isVisibleTo(dialog) == shown
    dialog.signing.setCurrentIndex(dialog.signing.findData("local"))
    dialog.format.setCurrentIndex(1)  # a lossless master is not signed
    assert not dialog.timestamp.isVisibleTo(dialog)
    dialog.format.setCurrentIndex(0)
    dialog.timestamp.setText("  http://timestamp.example/tsa  ")
    assert dialog.request().timestamp_url == "http://timestamp.example/tsa"
