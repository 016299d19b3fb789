"""File > Export Clip: the last rendered clip to a signed MP4 (or a lossless master), on a worker thread."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.ui.dialogs.export_job import (
    SIGN_FILES,
    SIGN_LOCAL,
    SIGN_NONE,
    ExportRequest,
    RenderedClip,
    export_job,
    local_subject,
)
from studio.ui.shell.jobs import BackgroundJob
from studio.ui.shell.session import EditSession

log = logging.getLogger(__name__)

# the reference picture's thumbnail in the Content Credentials: (label, longest side in pixels)
THUMBNAILS = [("Small (256 px)", 256), ("None", 0), ("Large (1024 px)", 1024)]
# (label, ExportOptions.format, file suffix, file-dialog filter)
FORMATS = [
    ("MP4 (H.264 + AAC), signed", "mp4", ".mp4", "MP4 video (*.mp4)"),
    ("Lossless master (MKV, FFV1)", "mkv-ffv1", ".mkv", "Matroska video (*.mkv)"),
    ("WebM (VP9 + Opus)", "webm", ".webm", "WebM video (*.webm)"),
]
# The theme draws disabled push buttons like enabled ones; here that would invite a click on Export.
DISABLED_BUTTONS = "QPushButton:disabled { color: #6c7586; background: #232833; border-color: #2c3340; }"


class PathField(QWidget):
    """A path line edit with a Browse… button."""

    def __init__(self, browse, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.edit = QLineEdit()
        self.button = QPushButton("Browse…")
        self.button.setAutoDefault(False)  # Enter in the dialog means Export
        self.button.clicked.connect(browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self.edit.setText(text)


class ExportDialog(QDialog):
    """Format, quality, range, signing identity and destination; a progress bar; cancel any time."""

    def __init__(
        self,
        clip: RenderedClip | None,
        parent: QWidget | None = None,
        start_dir: Path | None = None,
        name: str = "clip",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Clip")
        self.setStyleSheet(DISABLED_BUTTONS)
        self.clip = clip
        self.job: BackgroundJob | None = None
        self.result: Any = None
        self._close_when_done = False
        self._busy = False
        self._started = 0.0
        self.summary = QLabel(
            clip.describe()
            if clip
            else "Nothing rendered yet: render the graph (Ctrl+Enter), then export its clip."
        )
        self.summary.setObjectName("InspectorHelp" if clip else "Problem")
        self.summary.setWordWrap(True)

        self.format = QComboBox()
        for label, *_rest in FORMATS:
            self.format.addItem(label)
        self.crf = QSpinBox()
        self.crf.setRange(0, 51)
        self.crf.setValue(23)
        self.crf.setToolTip("H.264 quality: 18 looks lossless, 23 is the usual default, 28 is smaller")
        crf_row = self._row(self.crf, "0 best · 18 visually lossless · 23 default · 51 worst")
        count = clip.video.num_frames if clip else 1
        self.first = QSpinBox()
        self.last = QSpinBox()
        for spin in (self.first, self.last):
            spin.setRange(0, max(0, count - 1))
        self.first.setValue(clip.in_point if clip and clip.in_point is not None else 0)
        self.last.setValue(clip.out_point if clip and clip.out_point is not None else count - 1)
        self.whole = QPushButton("Whole clip")
        self.whole.setAutoDefault(False)
        self.whole.clicked.connect(lambda: (self.first.setValue(0), self.last.setValue(count - 1)))
        self.range_note = QLabel("")
        self.range_note.setObjectName("ParamHelp")
        range_row = QWidget()
        rr = QHBoxLayout(range_row)
        rr.setContentsMargins(0, 0, 0, 0)
        rr.addWidget(QLabel("from frame"))
        rr.addWidget(self.first)
        rr.addWidget(QLabel("to"))
        rr.addWidget(self.last)
        rr.addWidget(self.whole)
        rr.addWidget(self.range_note, 1)
        self.watermark = QComboBox()
        self.watermark.addItems(["Invisible watermark (survives re-encoding)", "No watermark"])
        self.signing = QComboBox()
        subject = local_subject()
        local = (
            f"Studio's local identity: {subject}"
            if subject
            else "Studio's local identity (made on first use)"
        )
        self.signing.addItem(local, SIGN_LOCAL)
        self.signing.addItem("My certificate chain and private key", SIGN_FILES)
        self.signing.addItem("Do not sign", SIGN_NONE)
        self.certificate = PathField(lambda: self._pick_pem(self.certificate, "certificate chain"))
        self.private_key = PathField(lambda: self._pick_pem(self.private_key, "private key"))
        self.timestamp = QLineEdit(str(_settings_value("export/timestamp_url") or ""))
        self.timestamp.setPlaceholderText("optional: a timestamp authority (RFC 3161) URL")
        self.timestamp.setToolTip(
            "A trusted time in the Content Credentials: the signature then stays valid after the signing "
            "certificate expires. Needs the network while signing."
        )
        self.timeline = QCheckBox("Also write an editor timeline (.otio) beside the clip")
        self.timeline.setToolTip(
            "For DaVinci Resolve, Hiero, RV and other OpenTimelineIO tools: the clip and its sound on a "
            "timeline, with the prompt sections and the soundtrack's beats as markers"
        )
        self.timeline.setChecked(_settings_value("export/timeline") in (True, "true"))
        self.overwrite = QCheckBox("Replace an earlier Studio export of the same name")
        self.overwrite.setToolTip(
            "Off: when the file exists, the clip is saved as the next version (clip_0002.mp4). On: an earlier "
            "clip Studio exported under that name is replaced. A file Studio did not write is never replaced."
        )
        self.thumbnail = QComboBox()
        for label, pixels in THUMBNAILS:
            self.thumbnail.addItem(label, pixels)
        self.thumbnail.setToolTip(
            "Content Credentials record the reference picture and the sound as ingredients, by file name. "
            "This chooses the picture's thumbnail stored with them."
        )
        remembered = _settings_value("export/thumbnail")
        if remembered is not None and self.thumbnail.findData(int(remembered)) >= 0:
            self.thumbnail.setCurrentIndex(self.thumbnail.findData(int(remembered)))
        self.destination = PathField(self._pick_destination)
        start = start_dir or Path.home()
        self.destination.setText(str(_free_name(start / f"{name}.mp4")))

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Format:", self.format)
        form.addRow("Quality (CRF):", crf_row)
        form.addRow("Range:", range_row)
        form.addRow("Watermark:", self.watermark)
        form.addRow("Signing:", self.signing)
        form.addRow("Certificate:", self.certificate)
        form.addRow("Private key:", self.private_key)
        form.addRow("Timestamp:", self.timestamp)
        form.addRow("Thumbnail:", self.thumbnail)
        form.addRow("Save to:", self.destination)
        form.addRow("", self.overwrite)
        form.addRow("", self.timeline)
        self.form = form

        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.setDefault(True)
        self.close_button.setIcon(QIcon())
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._sync)
        self.signing.currentIndexChanged.connect(self._sync)
        self.first.valueChanged.connect(self._sync)
        self.last.valueChanged.connect(self._sync)
        self._sync()
        self.resize(640, self.sizeHint().height())

    @staticmethod
    def _row(widget: QWidget, note: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget)
        label = QLabel(note)
        label.setObjectName("ParamHelp")
        layout.addWidget(label, 1)
        return row

    # ---- fields
    def take_node_settings(self, params: dict[str, Any], base: Path | None) -> None:
        """Start from the graph's Export node: its format, quality, watermark, signing and, for a graph
        saved in a file, its file (already there when the node ran, so the name gets a number)."""

        def resolve(value: Any) -> str:
            path = Path(str(value)).expanduser()
            return str(path if path.is_absolute() or base is None else base / path)

        keys = [f[1] for f in FORMATS]
        if params.get("format") in keys:
            self.format.setCurrentIndex(keys.index(params["format"]))
        if isinstance(params.get("crf"), int):
            self.crf.setValue(params["crf"])
        self.watermark.setCurrentIndex(0 if params.get("watermark", True) else 1)
        if params.get("timeline"):
            self.timeline.setChecked(True)
        if params.get("timestamp_url"):
            self.timestamp.setText(str(params["timestamp_url"]))
        if not params.get("sign", True):
            self.signing.setCurrentIndex(self.signing.findData(SIGN_NONE))
        elif params.get("certificate") and params.get("private_key"):
            self.signing.setCurrentIndex(self.signing.findData(SIGN_FILES))
            self.certificate.setText(resolve(params["certificate"]))
            self.private_key.setText(resolve(params["private_key"]))
        from nodes.export import THUMBNAIL_PIXELS

        pixels = THUMBNAIL_PIXELS.get(str(params.get("thumbnail", "")))
        if pixels is not None:
            self.thumbnail.setCurrentIndex(self.thumbnail.findData(pixels))
        if params.get("path") and base is not None:  # an untitled copy (an example) keeps the default folder
            from studio.ui.shell.output_folder import policy_for

            folder = policy_for().folder(base)  # where the node writes: its output folder, as a render has it
            self.destination.setText(str(_free_name(folder / str(params["path"]))))
        self._sync()

    @property
    def format_key(self) -> str:
        return FORMATS[self.format.currentIndex()][1]

    def _sync(self) -> None:
        fmt = self.format_key
        mp4 = fmt == "mp4"
        self.crf.setEnabled(fmt != "mkv-ffv1")
        self.signing.setEnabled(mp4)
        files = mp4 and self.signing.currentData() == SIGN_FILES
        for row in (self.certificate, self.private_key):
            self.form.setRowVisible(row, files)
        self.form.setRowVisible(self.timestamp, mp4 and self.signing.currentData() != SIGN_NONE)
        if not mp4:
            self.signing.setToolTip("Only MP4 files carry Content Credentials")
        suffix = FORMATS[self.format.currentIndex()][2]
        text = self.destination.text()
        if text and Path(text).suffix.lower() in {s for *_x, s, _f in FORMATS} and not text.endswith(suffix):
            self.destination.setText(str(Path(text).with_suffix(suffix)))
        if self.clip is not None:
            first, last = self.first.value(), self.last.value()
            if last < first:
                self.range_note.setText("the last frame is before the first")
            else:
                frames = last - first + 1
                note = f"{frames} frames, {frames / float(self.clip.video.fps):.2f} s"
                marks = (self.clip.in_point, self.clip.out_point)
                if marks != (None, None) and (first, last) == (
                    marks[0] or 0,
                    marks[1] if marks[1] is not None else self.clip.video.num_frames - 1,
                ):
                    note += " (the timeline's in and out points)"
                self.range_note.setText(note)
        self.export_button.setEnabled(self.clip is not None and not self.running)
        if self.clip is None:  # nothing to set up until there is a clip
            for widget in self._fields():
                widget.setEnabled(False)

    def _pick_pem(self, target: PathField, what: str) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Choose the {what}",
            target.text() or str(Path.home()),
            "PEM files (*.pem *.crt *.cer *.key);;All files (*)",
        )
        if path:
            target.setText(path)

    def _pick_destination(self) -> None:
        _label, _fmt, _suffix, file_filter = FORMATS[self.format.currentIndex()]
        path, _ = QFileDialog.getSaveFileName(self, "Export clip to", self.destination.text(), file_filter)
        if path:
            self.destination.setText(path)
            if Path(path).exists():
                self.overwrite.setChecked(True)  # the file dialog already asked about replacing it

    def request(self) -> ExportRequest:
        assert self.clip is not None
        return ExportRequest(
            clip=self.clip,
            destination=Path(self.destination.text()).expanduser(),
            format=self.format_key,
            crf=self.crf.value(),
            first=self.first.value(),
            last=self.last.value(),
            watermark=self.watermark.currentIndex() == 0,
            signing=str(self.signing.currentData()),
            certificate=self.certificate.text(),
            private_key=self.private_key.text(),
            timestamp_url=self.timestamp.text().strip(),
            timeline=self.timeline.isChecked(),
            overwrite=self.overwrite.isChecked(),
            thumbnail=int(self.thumbnail.currentData()),
        )

    # ---- running
    @property
    def running(self) -> bool:
        """From Export until the worker's last word arrives (its thread may outlive that by a moment)."""
        return self._busy

    def start_export(self) -> bool:
        if self.clip is None or self.running:
            return False
        request = self.request()
        problem = None
        if not self.destination.text():
            problem = "choose where to save the clip"
        elif request.last < request.first:
            problem = "the range is empty: the last frame is before the first"
        elif request.destination.is_dir():
            problem = f"{request.destination} is a folder: give a file name"
        if problem:
            self._show_failure(problem)
            return False
        self.result = None
        self.job = export_job(request, self)
        self.job.progress.connect(self._progress)
        self.job.succeeded.connect(self._succeeded)
        self.job.failed.connect(self._show_failure)
        self.job.cancelled.connect(self._cancelled)
        for done in (self.job.succeeded, self.job.failed, self.job.cancelled):
            done.connect(self._ended)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._set_status(f"Exporting {request.last - request.first + 1} frames…")
        self._set_editable(False)
        self.close_button.setText("Cancel")
        self._started = time.perf_counter()
        self._busy = True
        self.job.start()
        self._sync()
        return True

    def cancel_export(self) -> None:
        if self.running:
            assert self.job is not None
            self.job.cancel()
            self._set_status("Cancelling…")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(done * 100 // max(total, 1))
        elapsed = time.perf_counter() - self._started
        rate = f" · {done / elapsed:.0f} frames/s" if elapsed > 0.5 else ""
        self._set_status(f"Exporting frame {done} of {total}{rate}")

    def _succeeded(self, result: Any) -> None:
        self.result = result
        self.progress.setValue(100)
        took = time.perf_counter() - self._started
        signed = f", signed by {result.signer}" if result.signed and result.signer else ", not signed"
        mark = ", watermarked" if result.watermark_payload else ""
        notes = "".join(f"\nNote: {n}" for n in result.notes)
        _settings_value("export/folder", str(Path(result.path).parent))
        _settings_value("export/timeline", self.timeline.isChecked())
        _settings_value("export/timestamp_url", self.timestamp.text().strip())
        _settings_value("export/thumbnail", int(self.thumbnail.currentData()))
        asked = Path(self.destination.text()).expanduser()
        if Path(result.path).name != asked.name:
            notes += f"\nNote: {asked.name} exists, so this export is a new version: {Path(result.path).name}"
        if result.timeline_path is not None:
            notes += f"\nEditor timeline: {result.timeline_path.name}"
        self._set_status(
            f"Exported {result.frames} frames to {result.path} in {took:.1f} s{signed}{mark}.{notes}"
        )

    def _show_failure(self, message: str) -> None:
        self.progress.setVisible(False)
        self._set_status(f"Export failed: {message}", error=True)

    def _cancelled(self) -> None:
        self.progress.setVisible(False)
        self._set_status("Export cancelled: nothing was written.")

    def _ended(self, *_args: Any) -> None:
        self._busy = False
        self._set_editable(True)
        self.close_button.setText("Close")
        self._sync()
        if self._close_when_done:
            super().reject()

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setObjectName("Problem" if error else "InspectorHelp")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)

    def _set_editable(self, on: bool) -> None:
        for widget in self._fields():
            widget.setEnabled(on)
        if on:
            self._sync()

    def _fields(self) -> tuple[QWidget, ...]:
        return (
            self.format,
            self.crf,
            self.first,
            self.last,
            self.whole,
            self.watermark,
            self.signing,
            self.certificate,
            self.private_key,
            self.timestamp,
            self.destination,
            self.timeline,
            self.overwrite,
            self.thumbnail,
        )

    def reject(self) -> None:
        """Close, or while exporting: cancel, and close once the worker has stopped."""
        if self.running:
            self._close_when_done = self._close_when_done or self.close_button.text() != "Cancel"
            self.cancel_export()
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        if self.running:
            self._close_when_done = True
            self.cancel_export()
            event.ignore()
            return
        super().closeEvent(event)


def _free_name(path: Path) -> Path:
    """``path``, or its next free version (``name_0002.ext``, as the export itself numbers them)."""
    from studio.fileio import versions

    return next((p for p in versions(path) if not p.exists()), path)


def open_export_dialog(parent: QWidget, session: EditSession, clip: RenderedClip | None,
                       running: bool = False) -> ExportDialog:
    """Show the Export dialog for ``clip`` (the window's last render; window-modal, not blocking), starting from
    the settings of the graph's exporter node when it has one."""
    session_path = session.path
    start = Path(session_path).parent if session_path else None
    name = Path(session_path).name.split(".")[0] if session_path else "clip"
    remembered = _settings_value("export/folder")
    if remembered and Path(str(remembered)).is_dir():
        start = Path(str(remembered))
    dialog = ExportDialog(clip, parent, start_dir=start, name=name or "clip")
    if dialog.clip is None and running:
        dialog.summary.setText("A render is running: export its clip when it has finished.")
    exporters = session.registry.types_with_role("exporter")
    node = next((n for n in session.graph.nodes.values() if n.type in exporters), None)
    if node is not None:
        dialog.take_node_settings(node.params, Path(session_path).parent if session_path else None)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def _settings_value(key: str, value: Any = None) -> Any:
    """Read (or with ``value``, write) an editor setting; settings are a convenience, never an error."""
    try:
        from studio.ui.shell.settings import settings

        if value is None:
            return settings().value(key)
        settings().setValue(key, value)
    except Exception:  # noqa: BLE001
        log.debug("editor setting %s unavailable", key, exc_info=True)
    return None
