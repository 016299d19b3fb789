"""Render farm: whole-graph jobs on Ray worker actors (``studio render GRAPH --farm``). Needs ``studio[farm]``.

Imports the engine, runtime and media, never the UI; Ray is imported only when a Farm starts. The API a front
end uses (callbacks, previews, cancelling, submitting while it runs) is described in farm.py's docstring."""

from studio.farm.farm import Farm, missing_assets
from studio.farm.placing import place_files
from studio.farm.resources import Need, job_need, vram_estimate
from studio.farm.worker import Progress, RenderWorker, WorkerInfo

__all__ = ["Farm", "Need", "Progress", "RenderWorker", "WorkerInfo", "job_need", "missing_assets", "place_files",
           "vram_estimate"]
