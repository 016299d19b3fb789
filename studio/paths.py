"""Where Studio keeps the user's configuration, caches and recovery files.

``STUDIO_HOME`` overrides all of them (tests and portable installs use it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "studio"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
EMBEDDED_MODEL_NAME = "studio-tiny"  # the embedded default model's folder under resources/models
# Studio's own folder inside an output folder: the render history and the export records (media and engine keep
# records there and may not import each other, so the name lives here).
OUTPUT_RECORDS = ".studio-history"


def _home() -> Path | None:
    value = os.environ.get("STUDIO_HOME")
    return Path(value) if value else None


def config_dir() -> Path:
    home = _home()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    home = _home()
    path = home / "cache" if home else Path(platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    home = _home()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_model_folder() -> Path:
    return RESOURCES / "models" / EMBEDDED_MODEL_NAME


def signing_dir() -> Path:
    """The local signing identity's folder (studio.media.signing makes it)."""
    return config_dir() / "signing"


def default_output_dir() -> Path:
    """Where renders of a graph that has no folder of its own (unsaved, or an example) go: Videos/Studio."""
    home = _home()
    if home:
        return home / "renders"
    return Path(platformdirs.user_videos_dir()) / "Studio"


def is_bundled(path: Path) -> bool:
    """Whether ``path`` lies in Studio's own resources (the examples): never a place to write renders."""
    try:
        return Path(path).resolve().is_relative_to(RESOURCES)
    except OSError:
        return False
