"""The main window: canvas, inspector and log docks, menus, toolbar, and the editing actions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu

from studio.engine import (
    Engine,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    NodeWarning,
    RunFinished,
    RunStarted,
)
from studio.errors import StudioError
from studio.graph import NodeRegistry
from studio.media.render_history import RenderHistory
from studio.ui.canvas.groups import add_color_menu
from studio.ui.canvas.scene import GraphScene
from studio.ui.canvas.view import GraphView
from studio.ui.inspector.inspector import Inspector
from studio.ui.panels.docks import RenderPanels
from studio.ui.panels.welcome import WelcomeCard
from studio.ui.shell import theme
from studio.ui.shell.editing import Editing
from studio.ui.shell.files import Files

if TYPE_CHECKING:
    from studio.ui.panels.metrics_panel import MetricsPanel
from studio.ui.shell.logdock import LogPanel
from studio.ui.shell.preview import PreviewPanel
from studio.ui.shell.problems import ProblemChecker
from studio.ui.shell.recovery import Autosaver
from studio.ui.shell.render import RenderController
from studio.ui.shell.reopen import ReopenedRender, ReopenWatch
from studio.ui.shell.session import EditSession
from studio.ui.shell.settings import settings
from studio.ui.shell.shortcuts import ShortcutsDialog
from studio.values import Video

log = logging.getLogger(__name__)
TIMELINE_H = 290  # the timeline dock's first height: ruler, three lanes and the steps slider
WINDOWS: list[MainWindow] = []  # open windows, so a window made from a menu is not garbage-collected


def first_size(window: QMainWindow) -> QSize:
    """1400 x 860, or 92% of a smaller screen's free area."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    free = screen.availableGeometry().size() if screen is not None else QSize(1400, 860)
    return QSize(min(1400, int(free.width() * 0.92)), min(860, int(free.height() * 0.92)))



def shortcut_list(keys: list) -> list[QKeySequence]:
    """The key sequences for an action (a platform's standard key is its main binding there), each once: a key
    listed twice, as X11's Redo is Ctrl+Shift+Z already, makes Qt call the shortcut ambiguous and do nothing."""
    found: list[QKeySequence] = []
    for key in keys:
        sequence = QKeySequence(key)
        if not sequence.isEmpty() and all(sequence != known for known in found):
            found.append(sequence)
    return found

class MainWindow(QMainWindow):
    """One graph's editor: it builds the parts (canvas, inspector, docks, render controller, editing
    commands, files) and wires them; each part does its own work."""

    def __init__(self, registry: NodeRegistry, engine: Engine | None = None,
                 autosave_ms: int | None = None, timeline: bool = True) -> None:
        super().__init__()
        self.registry = registry
        self.session = EditSession(registry, self)
        self.scene = GraphScene(self.session)
        self.view = GraphView(self.scene, self)
        self.setCentralWidget(self.view)
        self.inspector = Inspector(self.session)
        self.logs = LogPanel()
        self.preview = PreviewPanel()
        self.renderer = RenderController(self.session, engine, self)
        self.checker = ProblemChecker(self.registry, self)
        self.autosaver = Autosaver(self.session, autosave_ms, self) if autosave_ms else Autosaver(self.session,
                                                                                                   parent=self)
        say = self.statusBar().showMessage
        self.editing = Editing(self.session, self.scene, self.view, registry, self, say)
        self.files = Files(self.session, registry, parent=self, say=say, logs=self.logs, renderer=self.renderer,
                           autosaver=self.autosaver, scene=self.scene, view=self.view, editing=self.editing,
                           new_window=lambda: self.new_window().files)
        self._build_docks()
        self.timeline = None
        self._reopened: ReopenedRender | None = None
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status()
        self._problem_timer = QTimer(self)
        self._problem_timer.setSingleShot(True)
        self._problem_timer.setInterval(250)
        self._problem_timer.timeout.connect(self.refresh_problems)
        self._selection_timer = QTimer(self)  # selecting 300 nodes is one inspector update
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self._show_selection)
        self._connect()
        if settings().value("geometry") is None:  # first launch: a size that fits the screen
            self.resize(first_size(self))
        self.restore_settings()
        if timeline:
            self.attach_timeline()
        self.update_title()
        self.refresh_problems()
        self._update_counts()
        self.welcome: WelcomeCard | None = None
        QTimer.singleShot(0, self.offer_welcome)
        WINDOWS.append(self)

    # ---- construction
    def _build_docks(self) -> None:
        # the right column runs the full height: the timeline sits under the canvas only, and the
        # inspector is not squeezed between the toolbar and the timeline
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.inspector_dock = QDockWidget("Inspector", self)
        self.inspector_dock.setObjectName("inspector")
        self.inspector_dock.setWidget(self.inspector)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.preview_dock = QDockWidget("Preview", self)
        self.preview_dock.setObjectName("preview")
        self.preview_dock.setWidget(self.preview)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.preview_dock)
        self.splitDockWidget(self.inspector_dock, self.preview_dock, Qt.Orientation.Vertical)
        self.log_dock = QDockWidget("Problems and Log", self)
        self.log_dock.setObjectName("log")
        self.log_dock.setWidget(self.logs)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.panels = RenderPanels(self, self.log_dock, self.session, self.registry, self.renderer, self.logs,
                                   self.show_clip, self.compare_clip)
        self.queue_panel, self.history_panel = self.panels.queue_panel, self.panels.history_panel
        self.queue_dock, self.history_dock, self.metrics_dock = self.panels.docks()
        self.log_dock.raise_()
        self.resizeDocks([self.inspector_dock], [340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.log_dock], [170], Qt.Orientation.Vertical)
        self.resizeDocks([self.inspector_dock, self.preview_dock], [520, 220], Qt.Orientation.Vertical)

    def first_layout(self) -> None:
        """Dock sizes for a first launch (no saved layout), from the window's size: the timeline
        gets the height its lanes need, the inspector most of the right column."""
        self._first_layout_pending = False
        docks = self.timeline
        width, height = self.width(), self.height()
        side = max(320, min(420, int(width * 0.25)))
        self.resizeDocks([self.inspector_dock], [side], Qt.Orientation.Horizontal)
        if docks is None:
            return
        # the current tab; raised as it was tabbed into a shown window, it is not yet
        QTimer.singleShot(0, docks.timeline_dock.raise_)
        self.resizeDocks([docks.timeline_dock], [min(TIMELINE_H, int(height * 0.38))], Qt.Orientation.Vertical)
        column = height - 90  # menu, toolbar and status bar
        viewer = max(260, int(column * 0.5))  # the picture is what a person watches: half the column
        self.resizeDocks([self.inspector_dock, docks.viewer_dock], [column - viewer, viewer],
                         Qt.Orientation.Vertical)

    def attach_timeline(self):  # noqa: ANN201 (TimelineDocks | None)
        """Add the viewer and timeline docks (studio/ui/timeline) when that package is installed.

        The app calls this just after the window shows: the canvas is usable while it loads."""
        if self.timeline is not None:
            return self.timeline
        try:
            from studio.ui.timeline.dock import TimelineDocks
        except ImportError:
            return None
        try:
            docks = TimelineDocks(self, self.session)
        except Exception:  # the canvas must open even if the timeline cannot
            log.exception("the timeline failed to start")
            return None
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks.timeline_dock)
        self.tabifyDockWidget(self.log_dock, docks.timeline_dock)
        docks.timeline_dock.raise_()
        # the viewer shows live previews (and more): it takes the simple preview dock's place
        self.removeDockWidget(self.preview_dock)
        self.preview_dock.hide()
        # out of the window altogether, so saved layouts never hold it: restoring one would show it
        # again and squeeze the viewer
        self.preview_dock.setParent(None)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks.viewer_dock)
        self.splitDockWidget(self.inspector_dock, docks.viewer_dock, Qt.Orientation.Vertical)
        self.renderer.event.connect(docks.handle_event)
        self.renderer.last.rendered.connect(docks.show_render)
        self.renderer.last.cleared.connect(docks.forget_render)
        docks.shot_chosen.connect(self.select_shot)
        self.inspector.record_chosen.connect(docks.choose_shot_row)
        self.view_menu.addAction(docks.viewer_dock.toggleViewAction())
        self.view_menu.addAction(docks.timeline_dock.toggleViewAction())
        self.preview_toggle.setVisible(False)
        self.timeline = docks
        self.show_reopened()  # a graph opened before the timeline was there: its last render
        state = settings().value("state")
        if state is not None:  # the saved layout places these docks too
            self.restoreState(state)
        else:  # sized once the window has its size (the app attaches the timeline after showing)
            self._first_layout_pending = True
            if self.isVisible():
                self.first_layout()
        return docks

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if getattr(self, "_first_layout_pending", False):
            self.first_layout()

    def _action(self, text: str, slot, keys: list | None = None, icon: str = "", canvas: bool = False,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(theme.icon(icon))
        if keys:
            action.setShortcuts(shortcut_list(keys))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        if canvas:  # keys that mean something else in text fields only act when the canvas has focus
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
        else:
            self.addAction(action)
        self.all_actions.append(action)
        return action

    def _build_actions(self) -> None:
        self.all_actions: list[QAction] = []
        A, K = self._action, QKeySequence.StandardKey
        self.act_new = A("&New", self.files.file_new, [K.New], "new", tip="Start an empty graph")
        self.act_new_window = A("New &Window", self.new_window, ["Ctrl+Shift+N"])
        self.act_open = A("&Open…", self.files.file_open, [K.Open], "open", tip="Open a graph file")
        self.act_save = A("&Save", self.files.file_save, [K.Save], "save", tip="Save the graph")
        self.act_save_as = A("Save &As…", self.files.file_save_as, [K.SaveAs])
        self.act_revert = A("Re&vert to Saved", self.files.file_revert, [])
        self.act_quit = A("&Quit", self.close, [K.Quit])
        self.act_export = A("&Export Clip…", self.show_export, ["Ctrl+E"],
                            tip="Export the last rendered clip, signed and watermarked (Ctrl+E)")
        self.act_verify = A("&Verify Clip…", self.show_verify, [],
                            tip="Check a clip's Content Credentials and watermark")
        undo = self.session.undo
        self.act_undo = A("&Undo", undo.undo, [K.Undo], "undo")
        self.act_redo = A("&Redo", undo.redo, [K.Redo, "Ctrl+Shift+Z", "Ctrl+Y"], "redo")
        self.act_undo.setEnabled(False)
        self.act_redo.setEnabled(False)
        undo.canUndoChanged.connect(self.act_undo.setEnabled)
        undo.canRedoChanged.connect(self.act_redo.setEnabled)
        undo.undoTextChanged.connect(lambda text: self.act_undo.setToolTip(f"Undo {text}" if text else "Undo"))
        undo.redoTextChanged.connect(lambda text: self.act_redo.setToolTip(f"Redo {text}" if text else "Redo"))
        self.act_add = A("&Add Node…", lambda: self.view.open_search(), [], "add", tip="Add a node (Tab)")
        self.act_cut = A("Cu&t", self.editing.cut, [K.Cut], canvas=True)
        self.act_copy = A("&Copy", self.editing.copy, [K.Copy], canvas=True)
        self.act_paste = A("&Paste", self.editing.paste, [K.Paste], canvas=True)
        self.act_duplicate = A("&Duplicate", self.editing.duplicate, ["Ctrl+D"], canvas=True)
        self.act_delete = A("De&lete", self.editing.delete_selected, ["Delete", "Backspace"], canvas=True)
        self.act_select_all = A("Select &All", self.editing.select_all, [K.SelectAll], canvas=True)
        self.act_find = A("&Find Node…", self.view.open_finder, [K.Find], canvas=True)
        self.align_actions = [
            A("Align &Left Edges", lambda: self.editing.align("left"), []),
            A("Align &Top Edges", lambda: self.editing.align("top"), []),
            A("Distribute &Horizontally", lambda: self.editing.align("spread_x"), []),
            A("Distribute &Vertically", lambda: self.editing.align("spread_y"), []),
        ]
        self.act_bypass = A("&Bypass", self.editing.toggle_bypass, ["Ctrl+B"], canvas=True)
        self.act_collapse = A("Co&llapse / Expand", self.editing.toggle_collapse, ["H"], canvas=True,
                              tip="Show the selected nodes as their title bar only (H)")
        self.act_group = A("&Group", self.editing.group_selected, ["Ctrl+G"], canvas=True)
        self.act_frame_all = A("&Frame All", self.view.frame_all, [], "frame", tip="Show the whole graph (F)")
        self.act_frame_sel = A("Frame &Selected", self.view.frame_selected, [])
        self.act_zoom_in = A("Zoom &In", lambda: self.view.zoom_at(1.25), [K.ZoomIn])
        self.act_zoom_out = A("Zoom &Out", lambda: self.view.zoom_at(0.8), [K.ZoomOut])
        self.act_zoom_reset = A("Actual Si&ze", self._zoom_reset, ["Ctrl+0"])
        self.act_minimap = A("&Minimap", lambda: None, ["M"], canvas=True)
        self.act_minimap.setCheckable(True)
        self.act_minimap.setChecked(True)
        self.act_minimap.toggled.connect(self.view.minimap.set_wanted)
        self.act_snap = A("Snap to &Grid", lambda: None, [])
        self.act_snap.setCheckable(True)
        self.act_snap.setChecked(True)
        self.act_snap.toggled.connect(self.scene.set_snap)
        self.act_render = A("&Render", self.render, ["Ctrl+Return", "Ctrl+Enter"], "render",
                            tip="Render the graph (Ctrl+Enter)")
        self.act_render_sel = A("Render &Selected", self.render_selected, ["Ctrl+Shift+Return"],
                                tip="Render only what the selected nodes need")
        self.act_render_draft = A("Render &Draft", lambda: self.render(draft=True), ["Ctrl+Alt+Return"],
                                  tip="Render with each generator's draft steps: same seed, a quick look; "
                                      "nothing is exported")
        self.act_render_draft_export = A("Render Draft and E&xport", lambda: self.render(draft=True, export=True),
                                         [], tip="A draft that also runs the Export node (into NAME_draft)")
        self.act_cancel = A("&Cancel Render", self.cancel_render, ["Esc"], "cancel",
                            tip="Stop the render at the next step (Esc)")
        self.act_cancel.setEnabled(False)
        self.act_shortcuts = A("&Keyboard Shortcuts", self.show_shortcuts, ["F1"])
        self.act_export_range = A("Set Export &Range from In/Out", self.set_export_range, [],
                                  tip="Make the Export node write only the frames between the timeline's in "
                                      "and out points (I and O mark a preview loop only)")
        self.act_queue_batch = A("&Queue Batch…", self.queue_batch, ["Ctrl+Shift+B"],
                                 tip="Queue one render per seed and swept value (e.g. seeds 1-4, guidance 3,5,7)")
        self.act_queue_farm = A("Queue on &Farm…", self.panels.queue_on_farm, [],
                                tip="Queue the graph as it is now on Ray workers (local or a cluster's address)")
        self.act_cancel_all = A("Cancel &All Renders", self.renderer.cancel_all, [],
                                tip="Stop the running render and take every waiting one off the queue")
        self.act_output_folder = A("&Output Folder…", self.choose_output_folder, [],
                                   tip="Where renders write: renders/ beside the graph, or a folder you choose")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_new, self.act_new_window, self.act_open])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent_menu(self.recent_menu))
        self.examples_menu = file_menu.addMenu("&Examples")
        self.examples_menu.aboutToShow.connect(lambda: self.files.fill_examples_menu(self.examples_menu))
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as, self.act_revert])
        file_menu.addSeparator()
        file_menu.addActions([self.act_export, self.act_verify])
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo])
        edit.addSeparator()
        edit.addActions([self.act_add, self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                         self.act_delete, self.act_select_all, self.act_find])
        edit.addSeparator()
        edit.addActions([self.act_bypass, self.act_collapse, self.act_group])
        align = edit.addMenu("Ali&gn")
        align.addActions(self.align_actions)
        view = bar.addMenu("&View")
        view.addActions([self.act_frame_all, self.act_frame_sel, self.act_zoom_in, self.act_zoom_out,
                         self.act_zoom_reset])
        view.addSeparator()
        view.addActions([self.act_minimap, self.act_snap])
        view.addSeparator()
        view.addAction(self.inspector_dock.toggleViewAction())
        self.preview_toggle = self.preview_dock.toggleViewAction()
        view.addAction(self.preview_toggle)
        view.addAction(self.log_dock.toggleViewAction())
        view.addAction(self.queue_dock.toggleViewAction())
        view.addAction(self.history_dock.toggleViewAction())
        view.addAction(self.metrics_dock.toggleViewAction())
        self.view_menu = view
        render = bar.addMenu("&Render")
        render.addActions([self.act_render, self.act_render_draft, self.act_render_draft_export, self.act_render_sel,
                           self.act_queue_batch, self.act_queue_farm])
        render.addSeparator()
        render.addActions([self.act_cancel, self.act_cancel_all])
        render.addSeparator()
        render.addActions([self.act_export_range, self.act_output_folder])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_shortcuts)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.act_new, self.act_open, self.act_save):
            bar.addAction(action)
        bar.addSeparator()
        bar.addActions([self.act_undo, self.act_redo])
        bar.addSeparator()
        bar.addActions([self.act_add, self.act_frame_all])
        bar.addSeparator()
        bar.addActions([self.act_render, self.act_cancel])

    def _build_status(self) -> None:
        self.run_label = QLabel("")
        self.count_label = QLabel("")
        self.zoom_label = QLabel("")
        for label in (self.run_label, self.count_label, self.zoom_label):
            self.statusBar().addPermanentWidget(label)
        self.statusBar().showMessage("Tab or double-click the canvas to add a node", 5000)

    def _connect(self) -> None:
        s = self.session
        s.dirty_changed.connect(lambda _d: self.update_title())
        s.path_changed.connect(lambda _p: self.update_title())
        s.changed.connect(self._problem_timer.start)
        self.scene.selectionChanged.connect(self._selection_timer.start)
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.scene.rename_request.connect(self.editing.rename)
        self.scene.layout_changed.connect(self._update_counts)
        self.view.node_chosen.connect(self.editing.add_node)
        self.view.files_dropped.connect(self.files.drop_files)
        self.view.context_menu_requested.connect(self.canvas_menu)
        self.logs.node_activated.connect(self.focus_node)
        self.logs.row_activated.connect(self.select_row)
        self.renderer.event.connect(self._run_event)
        self.checker.found.connect(self.logs.set_problems)
        self.checker.found.connect(self.scene.show_problems)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.renderer.running_changed.connect(self._running_changed)
        self.renderer.forgotten.connect(self.scene.clear_run_states)  # another graph: no result of the old one
        self.logs.handler.route = self.renderer.take_logged  # in order with the render's events
        self.renderer.logged.connect(self.logs.append)
        # a graph opened shows its last render from the history (studio/ui/shell/reopen.py), unless a render or
        # another graph comes first
        self.reopen = ReopenWatch(self.session, self.panels.history, self)
        self.reopen.found.connect(self.show_reopened)
        self.files.after_open = self.reopen.look
        self.renderer.forgotten.connect(self.reopen.drop)
        self.renderer.event.connect(lambda event: self.reopen.drop() if isinstance(event, RunStarted) else None)

    # ---- titles and status
    def update_title(self) -> None:
        self.setWindowTitle(f"{self.session.display_name}[*] — Studio")
        self.setWindowModified(self.session.dirty)

    def _update_counts(self) -> None:
        g = self.session.graph
        self.count_label.setText(f"{len(g.nodes)} nodes · {len(g.links)} links")
        self.zoom_label.setText(f"{self.view.zoom * 100:.0f}%")

    def refresh_problems(self) -> None:
        path = self.session.path
        self.checker.check(self.session.graph, Path(path).parent if path else None)

    def _show_selection(self) -> None:
        try:
            self.inspector.show_nodes(self.scene.selected_node_ids())
        except RuntimeError:  # the scene is being torn down
            pass

    def _zoom_reset(self) -> None:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        self.view.resetTransform()
        self.view.look_at(centre)

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.all_actions, self).exec()

    def focus_node(self, node_id: str) -> None:
        self.view.go_to_node(node_id)

    # ---- export and verify (studio/ui/dialogs/export_dialog.py, verify_dialog.py)
    def show_export(self) -> None:
        from studio.ui.dialogs.export_dialog import open_export_dialog
        from studio.ui.dialogs.export_job import rendered_clip

        self.renderer.flush()
        clip = rendered_clip(self.renderer.last.current, self._timeline_marks(), self.registry)
        self.export_dialog = open_export_dialog(self, self.session, clip, running=self.renderer.running)

    def _timeline_marks(self) -> tuple[int | None, int | None] | None:
        """The timeline's in and out points when it shows the last render's clip (else None)."""
        render, docks = self.renderer.last.current, self.timeline
        clip = render.clip() if render is not None else None
        if docks is None or clip is None or docks.model.count != clip[1].num_frames:
            return None
        return docks.model.in_point, docks.model.out_point

    # ---- the welcome card (studio/ui/panels/welcome.py)
    def offer_welcome(self) -> WelcomeCard | None:
        """On an empty, untitled canvas: the examples, recent files and what to do first, until a node or a file
        arrives."""
        from studio.ui.shell.files import examples

        if self.session.graph.nodes or self.session.path is not None or self.welcome is not None:
            return self.welcome
        self.welcome = WelcomeCard(examples(), self.files.recent_files(),
                                   lambda p: self.files.open_path(p, as_copy=True), self.files.open_path,
                                   self.view.viewport())
        self.welcome.place()
        self.welcome.show()
        self.session.changed.connect(self._hide_welcome)
        self.session.path_changed.connect(self._hide_welcome)
        return self.welcome

    def _hide_welcome(self, *_args: object) -> None:
        if self.welcome is not None and (self.session.graph.nodes or self.session.path is not None):
            self.welcome.hide()

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().resizeEvent(event)
        if self.welcome is not None:
            self.welcome.place()

    # ---- clips from the render history
    @property
    def metrics(self) -> MetricsPanel | None:
        return self.panels.metrics

    def render_history(self) -> RenderHistory:
        return self.panels.history()

    def show_clip(self, frames: np.ndarray, fps: float, title: str) -> None:
        """Show a clip (a render from the history) in the viewer and on the timeline."""
        if self.timeline is not None:
            self.timeline.live.show_video(Video(frames, fps))
            self.timeline.viewer_dock.raise_()
        else:
            self.preview.show_preview(title, 1, 1, frames)
        self.statusBar().showMessage(f"showing {title}", 5000)

    def show_reopened(self, found: ReopenedRender | None = None) -> None:
        """The last render of the graph just opened (or, once the timeline is there, the one that waited)."""
        found = found or self._reopened
        self._reopened = found if self.timeline is None else None
        if found is None or self.timeline is None:
            return
        self.timeline.show_reopened(found)
        self.logs.append(f"showing the {found.describe(source=True)}")

    def compare_clip(self, frames: np.ndarray, fps: float, title: str) -> None:
        if self.timeline is None:
            self.statusBar().showMessage("comparing needs the timeline", 4000)
            return
        self.timeline.live.compare_with(frames, fps, title)
        self.timeline.viewer.start_comparing()
        self.timeline.viewer_dock.raise_()
        self.statusBar().showMessage(f"comparing with {title}: Compare in the viewer picks wipe or difference", 6000)

    def select_shot(self, node_id: str, row: int) -> None:
        """Select a Shot List node and one of its rows (a shot's flag clicked on the timeline)."""
        node = self.session.graph.nodes.get(node_id)
        spec = self.registry.get(node.type) if node is not None else None
        if spec is not None and spec.roles.shot_list:
            self.select_row(node_id, spec.roles.shot_list, row)
            self.statusBar().showMessage(f"shot {row + 1} of '{node_id}'", 4000)

    def select_row(self, node_id: str, param: str, row: int, column: str = "") -> None:
        """Select a node and row ``row`` (0-based) of its table parameter ``param`` in the inspector (a shot
        chosen on the timeline, a problem of that row clicked in Problems: then ``column`` is its bad field)."""
        self.scene.select_nodes([node_id])
        # once the inspector has followed the selection (its own zero-time timer), choose the row
        QTimer.singleShot(30, lambda: self._select_row(node_id, param, row, column))

    def _select_row(self, node_id: str, param: str, row: int, column: str = "") -> None:
        if node_id not in self.session.graph.nodes:
            return
        if self._selection_timer.isActive() or self.inspector.node_id != node_id:  # show it now, once
            self._selection_timer.stop()
            self._show_selection()
        if self.inspector.select_row(param, row, column or None):
            self.inspector_dock.show()
            self.inspector_dock.raise_()

    def set_export_range(self) -> None:
        if self.timeline is None or not self.timeline.set_export_range():
            self.statusBar().showMessage("no export range to set: mark in (I) and out (O) on the timeline, "
                                         "with an Export node in the graph", 5000)
            return
        m = self.timeline.model
        self.statusBar().showMessage(
            f"the Export node now writes frames {m.in_point or 0} to "
            f"{m.out_point if m.out_point is not None else 'the end'}", 5000)

    def show_verify(self) -> None:
        from studio.ui.dialogs.verify_dialog import open_verify_dialog

        self.verify_dialog = open_verify_dialog(self)

    # ---- rendering
    def render(self, draft: bool = False, export: bool = False) -> None:
        """Render the graph as it is now; while another render runs, queue it (a snapshot) behind it."""
        if not self.session.graph.nodes:
            self.statusBar().showMessage("nothing to render: add nodes first", 4000)
            return
        busy = self.renderer.running
        self.renderer.submit(draft=draft, export=export)
        if busy:
            self.statusBar().showMessage(f"queued: {self.renderer.queue.waiting()} render(s) waiting", 5000)

    def queue_batch(self) -> None:
        from studio.ui.dialogs.batch_dialog import BatchDialog

        dialog = BatchDialog(self.session.graph, self.registry, self)
        self.batch_dialog = dialog
        if dialog.exec() != BatchDialog.DialogCode.Accepted:
            return
        try:
            made = self.renderer.submit(draft=dialog.draft.isChecked(), variations=dialog.variations)
        except StudioError as exc:  # the graph changed under the dialog
            self.files.show_error("Cannot queue the batch", str(exc))
            return
        self.queue_dock.show()
        self.queue_dock.raise_()
        self.statusBar().showMessage(f"queued {len(made)} render(s)", 5000)

    def choose_output_folder(self) -> None:
        from studio.ui.shell.output_folder import choose_root, output_folder

        chosen = choose_root(self)
        where = chosen or output_folder(self.session.path)
        self.statusBar().showMessage(f"renders write into {where}", 8000)

    def render_selected(self) -> None:
        ids = self.scene.selected_node_ids()
        if not ids:
            self.statusBar().showMessage("select the nodes to render first", 4000)
            return
        self.renderer.submit(ids)

    def cancel_render(self) -> None:
        if self.renderer.cancel():
            self.run_label.setText("cancelling…")

    def _running_changed(self, running: bool) -> None:
        self.act_cancel.setEnabled(running)  # rendering stays possible: a new render queues behind

    def _run_event(self, event: object) -> None:
        running = self.renderer.current  # its graph is what ran, whatever the canvas holds now
        started = isinstance(event, RunStarted) and running is not None
        self.scene.apply_run_event(event, running.graph if started else None, started and running.draft)
        log = self.logs.append
        if isinstance(event, RunStarted):
            log(f"render started: {len(event.node_ids)} node(s)")
            self._written = []
            self.preview.new_run()
            self.run_label.setText("rendering…")
        elif isinstance(event, NodeStarted):
            log(f"{event.node_id}: runs ({event.reason})")
            self.run_label.setText(f"rendering {event.node_id}…")
        elif isinstance(event, NodeProgress):
            running, item = self.renderer.current, self.scene.nodes.get(event.node_id)
            if item is not None and running is not None and running.passes is not None:  # which pass is counting
                item.set_state("running", running.steps_text(short=True), (event.step, event.total))
            self.run_label.setText(self.renderer.queue.status_line(running, event.node_id, event.step, event.total))
            if event.preview is not None and self.timeline is None:  # else the timeline's viewer shows it
                self.preview.show_preview(event.node_id, event.step, event.total, event.preview)
        elif isinstance(event, NodeCached):
            log(f"{event.node_id}: cached")
        elif isinstance(event, NodeFinished):
            log(f"{event.node_id}: done in {event.seconds:.2f} s")
            for path in event.written:
                log(f"{event.node_id}: wrote {path}")
                self._written.append(path)
        elif isinstance(event, NodeFailed):
            log(f"{event.node_id}: FAILED: {event.message}", 30)
        elif isinstance(event, NodeWarning):
            log(f"{event.node_id}: warning: {event.message}", 30)
        elif isinstance(event, RunFinished):
            text = f"render {event.status} in {event.seconds:.2f} s" + (f": {event.message}" if event.message else "")
            text += "".join(f" · wrote {path}" for path in getattr(self, "_written", ()))
            log(text, 30 if event.status == "failed" else 20)
            self.run_label.setText(f"render {event.status}")
            self.statusBar().showMessage(text, 8000)

    # ---- closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        # A render in progress (or waiting) is asked about, as File > Open does: a click on the window's close
        # button at step 139 of 150 would otherwise throw away a minute of work (seen in the soak).
        if not self.files.confirm_discard("closing the window"):
            event.ignore()
            return
        if self.renderer.running or self.renderer.queue.waiting():
            self.renderer.cancel_all()
            self.renderer.wait(5.0)
        self.renderer.close_farms()
        self.autosaver.discard()
        self.save_settings()
        self.logs.detach_logging()
        if self in WINDOWS:
            WINDOWS.remove(self)
        event.accept()

    # ---- window state
    def save_settings(self) -> None:
        s = settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        s.setValue("minimap", self.act_minimap.isChecked())
        s.setValue("snap", self.act_snap.isChecked())
        s.sync()

    def restore_settings(self) -> None:
        s = settings()
        geometry, state = s.value("geometry"), s.value("state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        for action, key in ((self.act_minimap, "minimap"), (self.act_snap, "snap")):
            value = s.value(key)
            if value is not None:
                action.setChecked(value in (True, "true"))

    def open_path(self, path: Path, confirmed: bool = False, as_copy: bool = False) -> bool:
        """Open a graph file in this window (what the command line and a drop of a graph file do)."""
        return self.files.open_path(path, confirmed=confirmed, as_copy=as_copy)

    def offer_recovery(self) -> int:
        return self.files.offer_recovery()

    def new_window(self) -> MainWindow:
        window = MainWindow(self.registry, timeline=False)
        window.show()
        QTimer.singleShot(0, window.attach_timeline)
        return window

    def canvas_menu(self, global_pos: QPoint, scene_pos: QPointF) -> QMenu:
        """Right-click: what can be done with the node under the cursor, or on empty canvas."""
        item = self.scene.node_item_at(scene_pos)
        group = self.scene.group_at(scene_pos) if item is None else None
        if item is not None and not item.isSelected():
            self.scene.select_nodes([item.node_id])
        if group is not None and not group.isSelected():
            self.scene.clearSelection()
            group.setSelected(True)
        menu = QMenu(self)
        if group is not None:
            gid = group.group_id
            menu.addActions([self.act_copy, self.act_cut, self.act_duplicate, self.act_delete])
            menu.addSeparator()
            menu.addAction("Rename…", lambda: self.editing.rename("group", gid))
            add_color_menu(menu, self.session, gid, self)
        elif self.scene.selected_node_ids():
            menu.addActions([self.act_copy, self.act_cut, self.act_duplicate, self.act_delete])
            menu.addSeparator()
            menu.addActions([self.act_bypass, self.act_collapse, self.act_group, self.act_frame_sel])
            if item is not None:
                menu.addAction("Rename…", lambda: self.editing.rename("node", item.node_id))
        else:
            menu.addAction(self.act_add.icon(), "Add Node…", lambda: self.view.open_search(scene_pos))
            menu.addActions([self.act_paste, self.act_select_all, self.act_frame_all])
        menu.popup(global_pos)
        return menu

