"""Render farm: whole-graph jobs on Ray worker actors (``studio render GRAPH --farm``). Needs ``studio[farm]``.

Imports the engine, runtime and media, never the UI; Ray is imported only when a Farm starts."""

from studio.farm.farm import Farm, missing_assets, place_files
from studio.farm.worker import Progress, RenderWorker

__all__ = ["Farm", "Progress", "RenderWorker", "missing_assets", "place_files"]
