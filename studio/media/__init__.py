"""Frames and sound out of Studio: encode and mux, invisible watermark, C2PA signing and verification."""

from __future__ import annotations

import importlib
from typing import Any

# Lazy re-exports: importing one light module of this package (a frame store) must not load c2pa,
# PyAV and scipy behind it.
_EXPORTS = {
    "EncodeInfo": "encode",
    "EncodeSettings": "encode",
    "MediaInfo": "encode",
    "encode_video": "encode",
    "probe": "encode",
    "read_frames": "encode",
    "read_luma": "encode",
    "ExportOptions": "export",
    "ExportResult": "export",
    "export_clip": "export",
    "export_video": "export",
    "Ingredient": "provenance",
    "Provenance": "provenance",
    "hash_file": "provenance",
    "hash_weights": "provenance",
    "SigningIdentity": "signing",
    "local_anchor_pem": "signing",
    "local_identity": "signing",
    "VerifyReport": "verify",
    "WatermarkReport": "verify",
    "verify_file": "verify",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.media' has no attribute '{name}'")
    return getattr(importlib.import_module(f"studio.media.{module}"), name)
