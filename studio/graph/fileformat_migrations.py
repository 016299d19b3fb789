"""Upgrades of saved ``.studio.json`` documents, one per format change: plain dict in, plain dict out.

A migration is a record of how the format was, so it names the node types and ports of its time; it never
asks the node registry (a graph must open the same way whatever packs are installed today).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

# The Camera Guide node before format 2: its one output 'guide' was a VIDEO that Generate Video's 'guide'
# input recognised as a camera instruction by sniffing it.
_CAMERA_GUIDE = "studio.CameraGuide"
_GENERATE = "studio.GenerateVideo"
_ADHERENCE = "studio.CameraAdherence"


def camera_guide_port(doc: dict[str, Any]) -> dict[str, Any]:
    """Format 1 to 2: the camera instruction gets its own port type (CAMERA_GUIDE).

    A link from a Camera Guide's 'guide' into Generate Video's 'guide' now goes into its 'camera_guide';
    one into Camera Adherence's 'guide' stays (that input now takes the CAMERA_GUIDE type); one anywhere else
    (a Preview, a Save Video) showed the move as a clip and now comes from the new 'preview' output.
    Anything that is not shaped as format 1 expects is left for the loader to report.
    """
    doc = copy.deepcopy(doc)
    types = {}
    nodes, links = doc.get("nodes"), doc.get("links")
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            types[node["id"]] = node.get("type")
    for link in links if isinstance(links, list) else []:
        src, dst = (link.get("from"), link.get("to")) if isinstance(link, dict) else (None, None)
        if not (_is_end(src) and _is_end(dst)):
            continue
        if types.get(src[0]) != _CAMERA_GUIDE or src[1] != "guide":
            continue
        target = (types.get(dst[0]), dst[1])
        if target == (_GENERATE, "guide"):
            link["to"] = [dst[0], "camera_guide"]
        elif target != (_ADHERENCE, "guide"):
            link["from"] = [src[0], "preview"]
    doc["version"] = 2
    return doc


def _is_end(end: Any) -> bool:
    return isinstance(end, list) and len(end) == 2 and all(isinstance(x, str) for x in end)


# MIGRATIONS[n] upgrades a document dict of version n to version n + 1. Add one per format change.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {
    1: camera_guide_port,
}
