"""Where a farm job's clips land: on the head (or shared storage), written whole, signed there, then moved to
their name or the next free version.

A worker renders and encodes; its Export signs nothing (``provenance.signing_deferred``) and sends back the
unsigned clip with what its Content Credentials were to say. The head signs it where it is placed, with the
identity the graph's Export names (a certificate on shared storage) or the head's own, adding the farm section:
which worker rendered it on which host, and which batch, job and try it was. ``studio verify`` shows that
section under Settings, as ``farm``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.engine.assets import resolve_input
from studio.engine.jobs import Job, writer_nodes
from studio.engine.outputs import resolve_output
from studio.graph import Graph, NodeRegistry
from studio.media import partfiles
from studio.media.outputs import place_output
from studio.media.provenance import DeferredSigning, Ingredient, Provenance, sign_mp4

COMPANIONS = (".otio",)
FARM_KEY = "farm"  # the section of the clip's generation settings that says where on the farm it was made


def signing_to_data(request: DeferredSigning) -> dict[str, Any]:
    """What a worker's export would have signed, as plain data for the trip to the head."""
    p = request.provenance
    # every field, so what Provenance gains later (adapters, ...) travels too; all are plain data but these
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    fields["settings"] = json.loads(json.dumps(p.settings, default=str))  # as parameters() writes them anyway
    fields["ingredients"] = [{"path": str(i.path), "relationship": i.relationship, "title": i.title}
                             for i in p.ingredient_list()]
    return {
        "provenance": json.loads(json.dumps(fields, default=str)),
        "instance_id": request.instance_id,
        "watermark_payload": request.watermark_payload.hex() if request.watermark_payload is not None else None,
        "thumbnail": request.thumbnail,
    }


def signing_from_data(data: Mapping[str, Any]) -> DeferredSigning:
    p = dict(data["provenance"])
    p["ingredients"] = [Ingredient(Path(i["path"]), i.get("relationship"), i.get("title"))
                        for i in p.get("ingredients", [])]
    payload = data.get("watermark_payload")
    return DeferredSigning(Provenance(**p), str(data["instance_id"]),
                           bytes.fromhex(payload) if payload is not None else None, int(data.get("thumbnail", 256)))


def place_files(job: Job, registry: NodeRegistry, files: dict[str, dict[str, bytes]], *,
                signing: Mapping[str, Mapping[str, Any]] | None = None,
                farm: Mapping[str, Any] | None = None) -> list[str]:
    """Write a finished job's clips into its output folder on this machine (the head), signing each one its
    worker left unsigned (``signing``: node id -> ``signing_to_data``) with ``farm`` in its credentials.
    Each is written whole beside its destination, then moved to its name or the next free version, with the
    same rules as a local render (never replacing what Studio did not write; a draft never replacing a full
    render)."""
    graph, policy = job.build(registry)
    base = Path(job.base_dir) if job.base_dir else None
    written = []
    for nid in writer_nodes(graph, registry):
        produced = files.get(nid) or {}
        dest = resolve_output(policy, nid, str(graph.nodes[nid].params.get("path", "")), base)
        main = produced.get(dest.suffix.lower())
        if main is None:
            continue  # a writer that wrote nothing this time (bypassed downstream, a format it names otherwise)
        companions = tuple(s for s in COMPANIONS if s in produced)
        request = (signing or {}).get(nid)
        if request is not None:
            placed = _place_signed(main, dest, signing_from_data(request), graph, nid, base, farm or {},
                                   policy.overwrite, policy.draft, companions)
        else:
            placed = _place(main, dest, policy.overwrite, policy.draft, companions=companions)
        for suffix in companions:
            _place(produced[suffix], placed.with_suffix(suffix), True, policy.draft, companions=())
        written.append(str(placed))
    return written


def _place(data: bytes, dest: Path, overwrite: bool, draft: bool, companions: tuple[str, ...]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _part(dest, "part") as tmp:
        with partfiles.hold(tmp):
            tmp.write_bytes(data)
        return _finish(tmp, dest, overwrite, draft, companions)


def _place_signed(data: bytes, dest: Path, request: DeferredSigning, graph: Graph, node_id: str,
                  base: Path | None, farm: Mapping[str, Any], overwrite: bool, draft: bool,
                  companions: tuple[str, ...]) -> Path:
    """Sign the worker's unsigned clip here, as its Export would have (same instance id, same watermark
    binding), with the farm section added, then place it."""
    provenance = replace(request.provenance, settings={**request.provenance.settings, FARM_KEY: dict(farm)})
    identity = _identity(graph, node_id, base)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _part(dest, "unsigned") as unsigned, _part(dest, "part") as signed:
        with partfiles.hold(unsigned), partfiles.hold(signed):  # no sweep elsewhere takes them meanwhile
            unsigned.write_bytes(data)
            sign_mp4(unsigned, signed, provenance, identity, instance_id=request.instance_id,
                     watermark_payload=request.watermark_payload, thumbnail=request.thumbnail)
        return _finish(signed, dest, overwrite, draft, companions)


def _identity(graph: Graph, node_id: str, base: Path | None):  # noqa: ANN202 - a SigningIdentity
    """The identity the writer node names (its certificate and key, read here: on storage the head sees), or
    this machine's local identity; with its timestamp authority."""
    from studio.media.signing import identity_for

    params = graph.nodes[node_id].params
    certificate, key = str(params.get("certificate") or ""), str(params.get("private_key") or "")
    return identity_for(resolve_input(certificate, base) if certificate else None,
                        resolve_input(key, base) if key else None, str(params.get("timestamp_url") or "") or None)


@contextlib.contextmanager
def _part(dest: Path, kind: str):
    """A hidden part file beside ``dest``, named as an export names its own (a sweep after a killed head
    recognises it), removed unless it was placed."""
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=partfiles.part_suffix(kind, dest.suffix),
                                dir=dest.parent)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _finish(tmp: Path, dest: Path, overwrite: bool, draft: bool, companions: tuple[str, ...]) -> Path:
    from studio.fileio import shareable_mode

    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, shareable_mode())
    return place_output(tmp, dest, overwrite=overwrite, draft=draft, companions=companions)
