"""A window's files: open, save, revert, recent files, examples, drops onto the canvas, crash recovery."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from studio import paths
from studio.errors import StudioError
from studio.graph import SUFFIX, Graph, NodeRegistry, loads
from studio.ui.canvas.items import GRID
from studio.ui.canvas.scene import GraphScene
from studio.ui.canvas.view import GraphView
from studio.ui.shell.editing import Editing
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.logdock import LogPanel
from studio.ui.shell.queue import QUEUED, RUNNING
from studio.ui.shell.recovery import Autosaver, Recovery, pending_recoveries
from studio.ui.shell.render import RenderController
from studio.ui.shell.session import EditSession
from studio.ui.shell.settings import settings

MAX_RECENT = 10
FILE_FILTER = f"Studio graphs (*{SUFFIX});;Clips made by Studio (*.mp4 *.m4v *.mov);;All files (*)"
CLIP_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})  # File > Open on one rebuilds its graph from its credentials


def examples() -> list[Path]:
    return sorted((paths.RESOURCES / "examples").glob("*" + SUFFIX))


def example_info(path: Path) -> tuple[str, str]:
    """(title, description) of an example from its meta, else a title from its file name."""
    title = path.name[: -len(SUFFIX)].replace("_", " ").replace("-", " ").capitalize()
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("meta", {})
    except (OSError, ValueError, AttributeError):
        return title, ""
    return str(meta.get("title") or title), str(meta.get("description") or "")


def file_patterns(file_filter: str) -> set[str]:
    """Extensions named by a Qt file filter: 'Images (*.png *.jpg)' -> {'.png', '.jpg'}."""
    return {"." + ext.lower() for ext in re.findall(r"\*\.([A-Za-z0-9]+)", file_filter)}


def ask_save(parent, name: str, doing: str) -> str:  # noqa: ANN001
    """'save', 'discard' or 'cancel' (tests replace this function)."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, "Unsaved changes", f"Save the changes to {name} before {doing}?",
                                  buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def ask_overwrite_changed(parent, name: str) -> str:  # noqa: ANN001
    """'overwrite', 'save_as' or 'cancel' when the file was written by someone else since it was opened (tests
    replace this function)."""
    buttons = QMessageBox.StandardButton
    box = QMessageBox(QMessageBox.Icon.Warning, "File changed on disk",
                      f"{name} was changed on disk since you opened it, by another Studio window or another "
                      "program.\n\nSaving over it loses those changes. Save under another name to keep both.",
                      buttons.Cancel, parent)
    overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole)
    save_as = box.addButton("Save As...", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(save_as)
    box.exec()
    return {overwrite: "overwrite", save_as: "save_as"}.get(box.clickedButton(), "cancel")


def ask_stop_renders(parent, count: int, name: str, doing: str) -> bool:  # noqa: ANN001
    """Whether to stop ``count`` renders of the graph ``name`` (running or waiting) for ``doing`` (tests replace
    this function)."""
    buttons = QMessageBox.StandardButton
    renders = "1 render" if count == 1 else f"{count} renders"
    keep = "To keep it running, choose Cancel" if count == 1 else "To keep them running, choose Cancel"
    # Another graph can open in a new window beside the renders; closing the window has no such way round.
    hint = f"{keep}." if doing.startswith("closing") else f"{keep} and use File > New Window for the other graph."
    answer = QMessageBox.question(
        parent, "Renders in progress", f"{renders} of {name} will stop before {doing}.\n\n{hint}",
        buttons.Ok | buttons.Cancel, buttons.Cancel)
    return answer == buttons.Ok


def ask_revert(parent, name: str) -> QMessageBox.StandardButton:  # noqa: ANN001
    buttons = QMessageBox.StandardButton
    return QMessageBox.question(parent, "Revert", f"Drop the unsaved changes to {name} and reload it?",
                                buttons.Yes | buttons.No, buttons.No)


def ask_restore(parent, recovery: Recovery) -> bool:  # noqa: ANN001
    """Whether to restore unsaved work found after a crash (tests replace this function)."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "Recover unsaved work",
        f"Studio did not close normally last time. Restore {recovery.describe()}?\n\n"
        "No discards the recovered copy.", buttons.Yes | buttons.No, buttons.Yes)
    return answer == buttons.Yes


class Files:
    """Everything a window does with files, given the parts of the window it works with."""

    def __init__(self, session: EditSession, registry: NodeRegistry, *, parent: QWidget,
                 say: Callable[[str, int], None], logs: LogPanel, renderer: RenderController,
                 autosaver: Autosaver, scene: GraphScene, view: GraphView, editing: Editing,
                 new_window: Callable[[], Files]) -> None:
        self.session, self.registry, self.parent, self.say, self.logs = session, registry, parent, say, logs
        self.renderer, self.autosaver, self.scene, self.view = renderer, autosaver, scene, view
        self.editing = editing
        self.new_window = new_window  # where recovered work goes when this window already holds a graph
        self.after_open: Callable[[], object] = lambda: None  # the window looks up the graph's last render

    # ---- commands
    def file_new(self) -> None:
        if self.confirm_discard("starting a new graph"):
            self.renderer.forget()  # its events would land on the new graph's nodes; its clip is not this graph's
            self.autosaver.discard()
            self.session.new()
            self.scene.clear_run_states()

    def file_revert(self) -> bool:
        """Drop the unsaved changes and reload the file (asks first)."""
        path = self.session.path
        if path is None or not self.session.dirty:
            return False
        buttons = QMessageBox.StandardButton
        if ask_revert(self.parent, path.name) != buttons.Yes:
            return False
        return self.open_path(path, confirmed=True)

    def file_open(self) -> None:
        if not self.confirm_discard("opening another graph"):
            return
        start = str(self.session.path.parent) if self.session.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open graph", start, FILE_FILTER)
        if path:
            self.open_path(Path(path), confirmed=True)

    def open_path(self, path: Path, confirmed: bool = False, as_copy: bool = False) -> bool:
        if not confirmed and not self.confirm_discard("opening another graph"):
            return False
        if Path(path).suffix.lower() in CLIP_SUFFIXES:
            self.open_clip(Path(path))
            return True
        try:
            self.session.load(path, as_copy=as_copy)
        except StudioError as exc:
            self.show_error("Cannot open the graph", str(exc))
            return False
        self.renderer.forget()  # a run of the previous graph must not paint states on this one, nor its clip stay
        self.autosaver.discard()
        if not as_copy:
            self.add_recent(Path(path).resolve())
        self.logs.append(f"opened {path}")
        self.view.frame_all()
        self.after_open()
        return True

    def open_clip(self, path: Path) -> BackgroundJob:
        """Rebuild the graph a clip was made with from its Content Credentials (read off the main thread, in the
        bounded verify children), as an untitled graph."""
        from studio.media.verify import verify_file

        self.say(f"reading the Content Credentials of {path.name}…", 5000)
        job = BackgroundJob(lambda _ctx: verify_file(path, ["local"], check_watermark=False), "open-clip",
                            background=False, parent=self.parent)
        job.succeeded.connect(lambda report: self._take_clip_graph(path, report))
        job.failed.connect(lambda why: self.show_error("Cannot open the clip", why))
        job.finished.connect(job.deleteLater)
        return job.start()

    def _take_clip_graph(self, path: Path, report: Any) -> bool:
        if not report.graph_document:
            why = ("it has no Content Credentials" if not report.has_manifest else
                   "its Content Credentials carry no Studio graph (made elsewhere, or before Studio kept it)")
            self.show_error("No graph in this clip", f"{path.name}: {why}. To use the clip itself, drop it on "
                            "the canvas (a Load Video node).")
            return False
        try:
            graph = loads(report.graph_document, self.registry, None)
        except StudioError as exc:
            self.show_error("Cannot rebuild the graph", f"{path.name}: {exc}")
            return False
        self.renderer.forget()
        self.autosaver.discard()
        self.session.restore(graph, None)  # untitled: saving asks where
        self.view.frame_all()
        self.logs.append(f"rebuilt the graph of {path.name} from its Content Credentials: {report.verdict}")
        self.say(f"the graph {path.name} was made with ({report.verdict}); save it to keep it", 10000)
        return True

    def file_save(self) -> bool:
        if self.session.path is None:
            return self.file_save_as()
        if self.session.changed_on_disk():  # two windows on one file: the later save overwrote the other's work
            answer = ask_overwrite_changed(self.parent, self.session.display_name)
            if answer == "save_as":
                return self.file_save_as()
            if answer != "overwrite":
                return False
        return self._save_to(self.session.path)

    def file_save_as(self) -> bool:
        start = str(self.session.path) if self.session.path else str(Path.home() / ("untitled" + SUFFIX))
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save graph as", start, FILE_FILTER)
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path = re.sub(r"\.json$", "", path) + SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.session.save(path)
        except (OSError, StudioError) as exc:
            self.show_error("Cannot save the graph", f"{path}: {exc}")
            return False
        self.autosaver.discard()
        self.add_recent(saved)
        self.say(f"saved {saved}", 4000)
        return True

    def confirm_discard(self, doing: str, renders: bool = True) -> bool:
        """True when it is fine to drop the current graph (saved, discarded, or clean) and stop its renders:
        opening another graph cancels them, and a queue of long renders went without a word (seen on a real
        display: File > Open during a render lost it at step 139 of 150)."""
        active = self.active_renders() if renders else 0
        if active and not ask_stop_renders(self.parent, active, self.session.display_name, doing):
            return False
        if not self.session.dirty:
            return True
        answer = ask_save(self.parent, self.session.display_name, doing)
        if answer == "save":
            return self.file_save()
        return answer == "discard"

    def active_renders(self) -> int:
        """Renders of this graph running or waiting, here or on a farm."""
        return sum(1 for entry in self.renderer.queue.entries if entry.state in (QUEUED, RUNNING))

    def show_error(self, title: str, text: str) -> None:
        self.logs.append(f"{title}: {text}", 40)
        self.say(f"{title}: {text}", 10000)
        QMessageBox.warning(self.parent, title, text)

    # ---- recent files and examples
    def recent_files(self) -> list[Path]:
        value = settings().value("recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in items if p]

    def add_recent(self, path: Path) -> None:
        items = [str(path)] + [str(p) for p in self.recent_files() if p != path]
        settings().setValue("recent", items[:MAX_RECENT])

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = [p for p in self.recent_files() if p.exists()]
        for path in recent:
            menu.addAction(path.name, lambda p=path: self.open_path(p)).setToolTip(str(path))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Menu", lambda: settings().setValue("recent", []))

    def fill_examples_menu(self, menu: QMenu) -> None:
        menu.clear()
        found = examples()
        for path in found:
            title, _ = example_info(path)
            menu.addAction(title, lambda p=path: self.open_path(p, as_copy=True)).setToolTip(str(path))
        if not found:
            menu.addAction("No examples installed").setEnabled(False)

    # ---- drops
    def drop_files(self, files: list[Path], pos: QPointF) -> None:
        graphs = [f for f in files if f.name.endswith(SUFFIX)]
        if graphs:
            self.open_path(graphs[0])
            return
        made = []
        for i, path in enumerate(files):
            found = self.node_for_file(path)
            if found is None:
                self.say(f"no node type reads '{path.suffix}' files", 5000)
                continue
            spec, param = found
            nid = self.editing.add_node(spec, QPointF(pos.x(), pos.y() + i * GRID * 8))
            self.session.set_param(nid, param, str(path.resolve()))
            made.append(nid)
        if made:
            self.scene.select_nodes(made)

    def node_for_file(self, path: Path):  # noqa: ANN201
        """(spec, parameter name) of the first node type whose path parameter accepts this file."""
        ext = path.suffix.lower()
        for spec in self.registry:
            if spec.is_output:
                continue
            for pspec in spec.params:
                if pspec.kind == "path" and ext in file_patterns(pspec.file_filter):
                    return spec, pspec.name
        return None

    # ---- crash recovery
    def offer_recovery(self) -> int:
        """Ask about each leftover recovery file; returns how many were restored."""
        restored = 0
        for rec in pending_recoveries():
            if not ask_restore(self.parent, rec):
                rec.discard()
                continue
            try:
                graph: Graph = rec.load(self.registry)
            except (OSError, StudioError) as exc:
                rec.set_aside(str(exc))  # kept for a person to look at, not offered again at every start
                self.show_error("Cannot restore", str(exc))
                continue
            target = self if not self.session.dirty and not self.session.graph.nodes else self.new_window()
            target.take_recovered(graph, rec)
            rec.discard()
            restored += 1
        return restored

    def take_recovered(self, graph: Graph, rec: Recovery) -> None:
        """Put recovered work on this window's canvas and write its own recovery copy at once."""
        self.renderer.forget()
        self.session.restore(graph, rec.source)
        self.view.frame_all()
        self.logs.append(f"restored unsaved work: {rec.describe()}")
        self.autosaver.write_now(wait=True)
