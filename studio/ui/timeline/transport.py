"""Transport: play, shuttle, step and jump, as buttons and as the keys editors share (Space, J/K/L...)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

from studio.ui.timeline.model import TimelineModel, timecode
from studio.ui.timeline.playback import Playback

KEYS = {  # key -> (method name, argument, what it does, for the shortcuts list)
    "Space": ("toggle", None, "Play / pause"),
    "J": ("shuttle", -1, "Play backwards (again: faster)"),
    "K": ("shuttle", 0, "Stop"),
    "L": ("shuttle", 1, "Play forwards (again: faster)"),
    "Left": ("step", -1, "Previous frame"),
    "Right": ("step", 1, "Next frame"),
    "Home": ("home", None, "First frame (of the in/out range)"),
    "End": ("end", None, "Last frame (of the in/out range)"),
    "I": ("mark_in", None, "Set the in point here (again: clear it)"),
    "O": ("mark_out", None, "Set the out point here (again: clear it)"),
}


class Transport(QWidget):
    """The bar under the viewer: buttons, the timecode, the frame number; and the keyboard."""

    def __init__(self, model: TimelineModel, playback: Playback, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.playback = model, playback
        self.shortcuts: list[QShortcut] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        icons = QStyle.StandardPixmap
        for name, icon, tip in (
            ("home", icons.SP_MediaSkipBackward, "First frame (Home)"),
            ("back", icons.SP_MediaSeekBackward, "Previous frame (Left)"),
            ("play", icons.SP_MediaPlay, "Play / pause (Space)"),
            ("forward", icons.SP_MediaSeekForward, "Next frame (Right)"),
            ("end", icons.SP_MediaSkipForward, "Last frame (End)"),
            ("loop", icons.SP_BrowserReload, "Loop the in/out range"),
        ):
            button = QToolButton()
            button.setIcon(self.style().standardIcon(icon))
            button.setAutoRaise(True)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the timeline, not to a button
            layout.addWidget(button)
            self.buttons[name] = button
        self.buttons["home"].clicked.connect(self.home)
        self.buttons["back"].clicked.connect(lambda: self.step(-1))
        self.buttons["play"].clicked.connect(self.toggle)
        self.buttons["forward"].clicked.connect(lambda: self.step(1))
        self.buttons["end"].clicked.connect(self.end)
        loop = self.buttons["loop"]
        loop.setCheckable(True)
        loop.setChecked(playback.loop)
        loop.toggled.connect(lambda on: setattr(playback, "loop", on))
        self.time_label = QLabel()
        mono = QFont("monospace", 10)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.time_label.setFont(mono)
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("0" * 44))
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("ParamHelp")
        layout.addSpacing(8)
        layout.addWidget(self.time_label)
        layout.addWidget(self.rate_label)
        layout.addStretch(1)
        model.playhead_changed.connect(lambda _f: self._show_time())
        model.clip_changed.connect(self._show_time)
        model.range_changed.connect(self._show_time)
        playback.playing_changed.connect(self._show_playing)
        self._show_time()

    # ---- keys
    def bind_keys(self, *widgets: QWidget) -> None:
        """Transport keys work while focus is inside any of ``widgets`` (not in the canvas, where
        Space pans)."""
        for widget in widgets:
            for key, (method, arg, _what) in KEYS.items():
                shortcut = QShortcut(QKeySequence(key), widget)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                slot = getattr(self, method)
                shortcut.activated.connect(slot if arg is None else (lambda s=slot, a=arg: s(a)))
                self.shortcuts.append(shortcut)

    # ---- actions
    def toggle(self) -> None:
        self.playback.toggle()

    def shuttle(self, direction: int) -> None:
        self.playback.shuttle(direction)
        self._show_playing(self.playback.playing)

    def step(self, frames: int) -> None:
        self.playback.pause()
        self.model.step(frames)

    def home(self) -> None:
        self.playback.pause()
        self.model.set_playhead(self.model.first)

    def end(self) -> None:
        self.playback.pause()
        self.model.set_playhead(self.model.last)

    def mark_in(self) -> None:
        m = self.model
        m.set_in(None if m.in_point == m.playhead else m.playhead)

    def mark_out(self) -> None:
        m = self.model
        m.set_out(None if m.out_point == m.playhead else m.playhead)

    # ---- display
    def _show_time(self) -> None:
        m = self.model
        text = f"{timecode(m.playhead, m.fps)}  {m.playhead:>5} / {max(0, m.count - 1)}"
        if m.in_point is not None or m.out_point is not None:
            text += f"   in {m.first} out {m.last}"
        self.time_label.setText(text)

    def _show_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.buttons["play"].setIcon(self.style().standardIcon(icon))
        rate = self.playback.rate
        self.rate_label.setText("" if rate in (0.0, 1.0) else f"{rate:+g}x")
