"""File > Verify Clip: a clip's Content Credentials and watermark, read offline on a worker thread."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.errors import StudioError
from studio.ui.dialogs.export_dialog import DISABLED_BUTTONS
from studio.ui.shell.jobs import BackgroundJob

log = logging.getLogger(__name__)
VIDEO_FILTER = "Video (*.mp4 *.m4v *.mov *.mkv *.webm);;All files (*)"
# verdict -> (banner colour, what it means, in a sentence)
_GOOD, _WARN, _BAD, _NONE = "#2e6b47", "#7a5d12", "#8f2f2f", "#3a4252"


def explain(report: Any) -> tuple[str, str]:
    """(banner colour, a sentence a person can act on) for a VerifyReport."""
    if report.credentials_not_checked:
        return _BAD, (
            f"Studio gave up reading this file's Content Credentials ({report.credentials_not_checked}), "
            "so nothing here says who made it or whether it changed."
        )
    if report.error:
        return _BAD, "The file's Content Credentials cannot be read."
    if not report.has_manifest:
        return _NONE, (
            "The file carries no Content Credentials: nothing says who made it or how. "
            "A watermark, if found below, may still identify it."
        )
    if report.tampered:
        return _BAD, f"Changed after the file was signed: {report.tamper_what}."
    if not report.valid:
        if report.signature_valid is False:
            return _BAD, "The signature does not check out: the credentials cannot be relied on."
        return _BAD, "The credentials do not check out (see the problems below): they cannot be relied on."
    if getattr(report, "watermark_disagrees", False):
        return _BAD, ("The credentials check out, but the picture's watermark carries another id than they name: "
                      "the picture may have been taken from another clip and these credentials put on it.")
    if report.trusted:
        return _GOOD, "The signature is valid, the content is unchanged, and you trust the signer."
    return _WARN, (
        "The signature is valid and the content is unchanged since signing, but the signer is not "
        "trusted: its certificate does not come from an authority you trust. Clips exported on this "
        "computer are signed by Studio's local authority; tick the box below to trust it."
    )


def verify_job(path: Path, trust_local: bool, parent: QObject | None = None) -> BackgroundJob:
    """Check one clip as a background job (the report, or a sentence when the file cannot be checked)."""

    def work(_ctx: object) -> Any:
        from studio.media.verify import verify_file

        return verify_file(path, ["local"] if trust_local else None)

    def explain(exc: BaseException) -> str:
        if isinstance(exc, StudioError):
            return str(exc)
        return f"the file could not be checked ({exc.__class__.__name__}: {exc})"

    return BackgroundJob(work, "verify", background=False, explain=explain, parent=parent)


class VerifyDialog(QDialog):
    """The verdict in a coloured banner, then signer, time, trust, tampering, actions, ingredients and
    watermark, one row each."""

    def __init__(self, path: str | Path, parent: QWidget | None = None, trust_local: bool = False) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.report: Any = None
        self.job: BackgroundJob | None = None
        self.setWindowTitle(f"Verify — {self.path.name}")
        self.setStyleSheet(DISABLED_BUTTONS)
        self.banner = QLabel("Checking…")
        self.banner.setWordWrap(True)
        self.banner.setMargin(10)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.trust = QCheckBox("Trust Studio's local signing authority (clips exported on this computer)")
        self.trust.setChecked(trust_local)
        self.trust.toggled.connect(lambda _on: self.verify())
        self.details = QWidget()
        self.form = QFormLayout(self.details)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.details)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.another = buttons.addButton("Verify Another…", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy = buttons.addButton("Copy Report", QDialogButtonBox.ButtonRole.ActionRole)
        for button in (self.another, self.copy):
            button.setAutoDefault(False)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setIcon(QIcon())
        close.setDefault(True)
        self.another.clicked.connect(self._another)
        self.copy.clicked.connect(self._copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.trust)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(720, 620)
        self.verify()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def verify(self) -> None:
        if self.running:
            return
        self._banner(
            _NONE, "Checking…", f"Reading the Content Credentials and the watermark of {self.path.name}"
        )
        self.copy.setEnabled(False)
        self.trust.setEnabled(False)
        self.job = verify_job(self.path, self.trust.isChecked(), self)
        self.job.succeeded.connect(self.show_report)
        self.job.failed.connect(self._failed)
        self.job.start()

    def _banner(self, colour: str, title: str, text: str) -> None:
        self.banner.setStyleSheet(f"background: {colour}; color: #ffffff; border-radius: 6px;")
        self.banner.setText(
            f"<div style='font-size: 13pt; font-weight: 600'>{html.escape(title)}</div>"
            f"<div>{html.escape(text)}</div>"
        )

    def _failed(self, message: str) -> None:
        self.trust.setEnabled(True)
        self._clear()
        self._banner(_BAD, "Cannot verify", message)

    def _clear(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)

    def _add(self, name: str, value: str, bad: bool = False) -> QLabel:
        label = QLabel(value)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if bad:
            label.setObjectName("Problem")
        self.form.addRow(f"{name}:", label)
        return label

    def show_report(self, report: Any) -> None:
        """Fill the dialog from a VerifyReport (on the main thread)."""
        self.report = report
        self.trust.setEnabled(True)
        self.copy.setEnabled(True)
        colour, sentence = explain(report)
        self._banner(colour, report.verdict[:1].upper() + report.verdict[1:], sentence)
        self._clear()
        self._add("File", str(report.path))
        if report.has_manifest:
            signer = report.signer or "unknown"
            self._add("Signer", signer + (f" (issued by {report.issuer})" if report.issuer else ""))
            when = _when(report.signed_at) if report.signed_at else "not recorded"
            self._add(
                "Signed at", when + (f" ({report.signed_at_source})" if report.signed_at_source else "")
            )
            self._add(
                "Signature", "valid" if report.signature_valid else "INVALID", bad=not report.signature_valid
            )
            self._add(
                "Trust",
                "trusted" if report.trusted else "signer not trusted (no trust anchor for its issuer)",
            )
            self._add(
                "Content",
                f"TAMPERED: {report.tamper_what}" if report.tampered else "unchanged since signing",
                bad=report.tampered,
            )
            if report.claim_generator:
                self._add("Made with", report.claim_generator)
            for action in report.actions:
                self._add("Action", _action_text(action))
            gen = report.generation or {}
            if gen:
                model = gen.get("model") or {}
                self._add("Model", f"{model.get('name')} ({model.get('hash') or 'no weights hash'})")
                for prompt in gen.get("prompts") or []:
                    self._add("Prompt", str(prompt))
                if gen.get("seed") is not None:
                    self._add("Seed", str(gen.get("seed")))
                if gen.get("settings"):
                    self._add("Settings", json.dumps(gen["settings"], sort_keys=True))
            if report.ingredients:
                for ing in report.ingredients:
                    self._add(
                        "Ingredient", f"{ing.get('title')} ({ing.get('format')}, {ing.get('relationship')})"
                    )
            else:
                self._add("Ingredients", "none")
            for failure in report.failures:
                code = failure.get("code", "")
                if code == "signingCredential.untrusted" and not report.tampered:
                    continue  # said plainly under Trust
                self._add("Problem", f"{code}: {failure.get('explanation', '')}", bad=True)
        elif report.error:
            self._add("Problem", report.error, bad=True)
        wmr = report.watermark
        if wmr is not None:
            from studio.media.verify import watermark_text  # loaded by the job already; kept off startup

            text = watermark_text(
                wmr, matches=" — matches the credentials", differs=" — DOES NOT match the credentials"
            )
            self._add("Watermark", text, bad=wmr.matches_manifest is False)
            if wmr.payload:
                self._add("Watermark payload", f"{wmr.payload} (read from {wmr.frames_read} frames)")
        for note in report.notes:
            self._add("Note", note)
        for item in report.not_checked:  # what was given up or cut short, said plainly
            self._add("Not checked", item, bad=True)

    def _copy(self) -> None:
        if self.report is not None:
            QApplication.clipboard().setText(self.report.to_text())

    def _another(self) -> None:
        path = pick_clip(self)
        if path is not None:
            self.path = path
            self.setWindowTitle(f"Verify — {path.name}")
            self.verify()


def _action_text(action: dict[str, Any]) -> str:
    agent = action.get("softwareAgent") or {}
    text = str(action.get("action", "?"))
    if isinstance(agent, dict) and agent:
        text += f" by {agent.get('name', '')} {agent.get('version', '')}".rstrip()
    source = action.get("digitalSourceType", "")
    if source:
        text += f" [{source.rsplit('/', 1)[-1]}]"
    if action.get("when"):
        text += f" at {_when(str(action['when']))}"
    return text


def _when(stamp: str) -> str:
    """An ISO 8601 time as people read it: 2026-11-26 10:15:45 UTC."""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pick_clip(parent: QWidget | None) -> Path | None:
    """Ask for a clip to verify (tests replace this)."""
    start = Path.home()
    with contextlib.suppress(Exception):  # start where the last export went, when there was one
        from studio.ui.shell.settings import settings

        folder = settings().value("export/folder")
        if folder and Path(str(folder)).is_dir():
            start = Path(str(folder))
    path, _ = QFileDialog.getOpenFileName(parent, "Verify a clip", str(start), VIDEO_FILTER)
    return Path(path) if path else None


def open_verify_dialog(parent: QWidget | None, path: str | Path | None = None) -> VerifyDialog | None:
    """File > Verify Clip…: pick a file, then show its report (window-modal, not blocking)."""
    chosen = Path(path) if path is not None else pick_clip(parent)
    if chosen is None:
        return None
    dialog = VerifyDialog(chosen, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
