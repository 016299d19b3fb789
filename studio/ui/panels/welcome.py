"""The welcome card on an empty, untitled canvas: the examples as templates, recent files, and what to do first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QIcon, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.shell.files import example_info

THUMB = QSize(112, 63)
WIDTH = 540


class WelcomeCard(QFrame):
    """Shown over the canvas while it is empty and untitled; ``open_example(path)``, ``open_recent(path)``."""

    def __init__(self, examples: list[Path], recent: list[Path], open_example: Callable[[Path], object],
                 open_recent: Callable[[Path], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Welcome")
        self.setStyleSheet("#Welcome { background: rgba(30, 34, 43, 240); border: 1px solid #3a4252;"
                           " border-radius: 10px; } QPushButton { text-align: left; padding: 6px 10px; }")
        title = QLabel("<b style='font-size: 15pt'>Start here</b>")
        hint = QLabel("Open an example and press <b>Ctrl+Enter</b>: the embedded model renders a clip in seconds, "
                      "and each denoising step streams into the viewer. Or press <b>Tab</b> on the canvas to add "
                      "a node.")
        hint.setWordWrap(True)
        hint.setFixedHeight(hint.heightForWidth(WIDTH - 36) + 4)  # a floating card: no layout gives it height
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide (it comes back on an empty canvas at the next start)")
        close.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 16)
        layout.addLayout(top)
        layout.addWidget(hint)
        self.example_buttons: list[QPushButton] = []
        button_metrics = QFontMetrics(QPushButton().font())
        if examples:
            layout.addWidget(QLabel("<b>Examples</b> (open as untitled copies)"))
        for path in examples:
            name, description = example_info(path)
            line = f"{name} — {description}" if description else name
            button = QPushButton(button_metrics.elidedText(line, Qt.TextElideMode.ElideRight, WIDTH - 80))
            button.setToolTip(f"{name}\n{description}\n{path}")
            thumb = path.with_suffix("").with_suffix(".png")
            if thumb.exists():
                button.setIcon(QIcon(QPixmap(str(thumb))))
                button.setIconSize(THUMB)
            button.clicked.connect(lambda _=False, p=path: open_example(p))
            layout.addWidget(button)
            self.example_buttons.append(button)
        self.recent_buttons: list[QPushButton] = []
        shown = [p for p in recent if p.exists()][:5]
        if shown:
            layout.addWidget(QLabel("<b>Recent</b>"))
        for path in shown:
            button = QPushButton(path.name)
            button.setToolTip(str(path))
            button.clicked.connect(lambda _=False, p=path: open_recent(p))
            layout.addWidget(button)
            self.recent_buttons.append(button)
        self.setFixedWidth(WIDTH)
        self.setFixedHeight(layout.sizeHint().height())

    def place(self) -> None:
        """Centre on the parent (the canvas viewport)."""
        parent = self.parentWidget()
        if parent is not None:
            self.move(max(0, (parent.width() - self.width()) // 2), max(0, (parent.height() - self.height()) // 3))
