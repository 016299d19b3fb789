"""The preview dock: the clip a node is making, updated at every denoising step, scrubbable."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget


def as_frames(preview: Any) -> np.ndarray | None:
    """A preview as uint8 [T, H, W, 3], or None when it is not pictures (toy nodes send numbers)."""
    if not isinstance(preview, np.ndarray) or preview.dtype != np.uint8:
        return None
    if preview.ndim == 3 and preview.shape[-1] == 3:
        preview = preview[None]
    if preview.ndim != 4 or preview.shape[-1] != 3 or 0 in preview.shape:
        return None
    return preview


def to_image(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: owns its pixels


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: np.ndarray | None = None
        self.follow = True  # show the newest frame until the user scrubs
        self.image = QLabel("The clip appears here while a node renders.")
        self.image.setObjectName("EmptyHint")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(160, 90)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.hide()  # shown once there is a clip to scrub
        self.slider.valueChanged.connect(self._show_frame)
        self.slider.sliderPressed.connect(lambda: setattr(self, "follow", False))
        self.caption = QLabel("")
        self.caption.setObjectName("ParamHelp")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.slider)
        layout.addWidget(self.caption)

    def show_preview(self, node_id: str, step: int, total: int, preview: Any) -> bool:
        frames = as_frames(preview)
        if frames is None:
            return False
        self.frames = frames
        count = len(frames)
        self.slider.blockSignals(True)
        self.slider.setRange(0, count - 1)
        self.slider.setEnabled(count > 1)
        self.slider.setVisible(count > 1)
        if self.follow or self.slider.value() >= count:
            self.slider.setValue(count - 1)
        self.slider.blockSignals(False)
        self.caption.setText(f"{node_id} · step {step}/{total} · {count} frame(s) · {frames.shape[2]}x{frames.shape[1]}")
        self._show_frame(self.slider.value())
        return True

    def new_run(self) -> None:
        self.follow = True

    def _show_frame(self, index: int) -> None:
        if self.frames is None or not len(self.frames):
            return
        index = max(0, min(index, len(self.frames) - 1))
        pixmap = QPixmap.fromImage(to_image(self.frames[index]))
        self._pixmap = pixmap
        self._fit()

    def _fit(self) -> None:
        pixmap = getattr(self, "_pixmap", None)
        if pixmap is None:
            return
        size = self.image.size()
        self.image.setPixmap(pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()
