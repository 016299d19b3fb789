"""Colours, fonts, icons and the style sheet shared by every editor widget."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette, QPen
from PySide6.QtWidgets import QApplication

from studio.graph import port_colour
from studio.paths import RESOURCES

THEME_FILE = RESOURCES / "theme" / "dark.qss"
ICON_DIR = RESOURCES / "icons"

# One colour per port type, declared with the type (``studio.graph.PortType``): links and ports share it, so a
# glance tells what may connect, and a pack's own types bring their colours.
port_hex = port_colour
CATEGORY_COLORS = {
    "Inputs": "#2f5d50",
    "Model": "#4b3a6b",
    "Generate": "#2f4a73",
    "Output": "#6b4a2f",
    "Test": "#3a4660",
}
STATE_COLORS = {
    "queued": "#8d97a8",
    "running": "#4f8fe6",
    "cached": "#41d6c3",
    "done": "#5ad17a",
    "failed": "#e5534b",
    "cancelled": "#d9a441",
    "stale": "#7d8597",
}

CANVAS_BG = "#16191f"
GRID_MINOR = "#1d2129"
GRID_MAJOR = "#242a34"
NODE_BODY = "#262b36"
NODE_BORDER = "#10131a"
SELECTED = "#f0a73c"
TEXT = "#e6ebf3"
TEXT_DIM = "#8d97a8"
REFUSED = "#ff4d4d"
ACCEPTED = "#7dff9a"


def port_color(port_type: str) -> QColor:
    return _color(port_colour(port_type))


def category_color(category: str) -> QColor:
    return _color(CATEGORY_COLORS.get(category, "#3a4660"))


@cache
def _color(text: str) -> QColor:
    return QColor(text)


def color(text: str) -> QColor:
    """A shared QColor for a hex string (paint code must not allocate colours per frame)."""
    return _color(text)


@cache
def pen(text: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    p = QPen(_color(text), width, style)
    p.setCapStyle(Qt.PenCapStyle.RoundCap)
    return p


@cache
def font(point_size: float, bold: bool = False) -> QFont:
    f = QFont(QApplication.font())
    f.setPointSizeF(point_size)
    f.setBold(bold)
    return f


@cache
def icon(name: str) -> QIcon:
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def apply(app: QApplication) -> None:
    """Dark palette (for what the style sheet does not reach) plus the style sheet."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e222b",
        QPalette.ColorRole.WindowText: "#d5dbe6",
        QPalette.ColorRole.Base: "#14171e",
        QPalette.ColorRole.AlternateBase: "#1c2028",
        QPalette.ColorRole.Text: "#e6ebf3",
        QPalette.ColorRole.Button: "#2c3340",
        QPalette.ColorRole.ButtonText: "#e6ebf3",
        QPalette.ColorRole.Highlight: "#3d6fb5",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#2a303c",
        QPalette.ColorRole.ToolTipText: "#e6ebf3",
        QPalette.ColorRole.PlaceholderText: "#6c7586",
        QPalette.ColorRole.Link: "#4f8fe6",
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6c7586"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6c7586"))
    app.setPalette(pal)
    if THEME_FILE.exists():
        sheet = THEME_FILE.read_text(encoding="utf-8").replace("@ICONS@", ICON_DIR.as_posix())
        app.setStyleSheet(sheet)
    app.setWindowIcon(icon("studio"))
