"""Found in the shot-list soak: two editors opened the same graph without a word, and the later save silently
overwrote the other window's work. A save now sees that the file changed on disk since this window read or
wrote it, and asks: overwrite, save under another name, or cancel."""

from __future__ import annotations

import json

from studio.graph import dumps
from studio.ui.shell import files
from tests.ui.test_canvas import add


def test_a_save_over_a_file_changed_on_disk_asks_and_cancel_keeps_the_other_work(window, monkeypatch, tmp_path):
    path = tmp_path / "shared.studio.json"
    add(window, "test.Number", (0, 0))
    path.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    assert window.open_path(path, confirmed=True)
    assert not window.session.changed_on_disk()
    add(window, "test.Number", (200, 0))
    assert window.files.file_save()  # nobody else wrote it: saved without a question
    mine = path.read_text(encoding="utf-8")

    other = json.loads(mine)  # another window (or program) saves its own version
    other["nodes"] = other["nodes"][:1] if isinstance(other["nodes"], list) else dict(list(other["nodes"].items())[:1])
    path.write_text(json.dumps(other), encoding="utf-8")
    assert window.session.changed_on_disk()
    asked: list[str] = []
    monkeypatch.setattr(files, "ask_overwrite_changed", lambda _parent, name: asked.append(name) or "cancel")
    add(window, "test.Number", (400, 0))
    assert not window.files.file_save()
    assert asked == ["shared.studio.json"]
    assert json.loads(path.read_text(encoding="utf-8")) == other  # the other window's work is still there

    monkeypatch.setattr(files, "ask_overwrite_changed", lambda *_a: "overwrite")
    assert window.files.file_save()
    assert len(json.loads(path.read_text(encoding="utf-8"))["nodes"]) == 3
    assert not window.session.changed_on_disk()  # this save is now what is on disk


def test_an_example_opened_as_a_copy_and_a_deleted_file_ask_nothing(window, tmp_path):
    path = tmp_path / "gone.studio.json"
    path.write_text(dumps(window.session.graph, window.registry), encoding="utf-8")
    assert window.open_path(path, confirmed=True)
    path.unlink()
    assert not window.session.changed_on_disk()
    add(window, "test.Number", (0, 0))
    assert window.files.file_save() and path.exists()  # written again, no question (the fixture would fail)
