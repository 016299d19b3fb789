"""What an exporting node wrote, kept in its output folder between sessions: a render of unchanged work returns
the clip already there instead of writing another numbered copy.

A record sits in the output folder's Studio folder (``.studio-history/exports/<key>.json``, beside the render
history) and names, for one exporter's key, the files it wrote (relative to the output folder) with their size,
modification time and SHA-256. It is trusted only when

- its MAC verifies under this user's secret (``config_dir()/export-records.key``): a record someone shipped with
  a graph cannot make Studio claim a file it did not write;
- every file it names is a plain file inside the output folder (no ``..``, no absolute name, no link on the
  way out): a record never makes Studio read or claim a file elsewhere;
- every file still has the bytes Studio wrote (size, then SHA-256): a file replaced, re-encoded or swapped
  for another of the same size and time is written again.

The key of a record is the exporter's engine key (its parameters, its upstream keys, the files it reads, where
it writes, draft or not) plus what the engine's key cannot see from the graph but the clip depends on across
sessions: Studio's version, the model's weight files and the local signing identity. It leaves out the
``overwrite`` flag, so an ``--overwrite`` render (which always writes) leaves a record a later plain render
reuses.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.assets import resolve_input
from studio.engine.keys import digest
from studio.fileio import file_sha256, place_new, write_text_atomic
from studio.graph import Graph, NodeRegistry
from studio.paths import OUTPUT_RECORDS, config_dir, embedded_model_folder, signing_dir

log = logging.getLogger(__name__)

STUDIO_FOLDER = OUTPUT_RECORDS  # beside the render history: one place in the output folder for Studio's records
EXPORTS = "exports"
SECRET_FILE = "export-records.key"
RECORD_VERSION = 1
RECORD_LIMIT = 256 * 1024  # a record larger than this is not one of ours
COMPANIONS = (".otio",)  # side files an exporter writes beside its clip under the clip's name
_STAMP_LIMIT = 4000  # files of a model folder stamped into a key; a folder with more is stamped by its first ones


@dataclass(frozen=True)
class Reuse:
    """A recorded result that still holds: the exporter's outputs and the files they name (relative)."""

    values: dict[str, Any]
    files: tuple[str, ...]

    def reason(self) -> str:
        names = ", ".join(self.files[:1]) + (f" (and {len(self.files) - 1} more)" if len(self.files) > 1 else "")
        return f"the same clip is already at {names}"


# ---- the key


def record_key(parts: dict[str, Any], upstream_sources: Iterable[tuple[str, Path | None]]) -> str:
    """The key a record is kept under: the exporter's key parts without the overwrite flag, plus Studio's
    version, the stamps of the model folders its upstream loads (``(source, base_dir)`` pairs) and of the
    local signing identity."""
    from studio import __version__

    writes = {name: [where[0], where[2]] if isinstance(where, list) and len(where) == 3 else where
              for name, where in parts.get("writes", {}).items()}  # [folder or file, overwrite, draft]
    return digest({"parts": dict(parts, writes=writes), "studio": __version__,
                   "models": sorted(_model_stamp(s, b) for s, b in upstream_sources),
                   "signing": _folder_stamp(signing_dir())})


def _model_stamp(source: str, base_dir: Path | None) -> list[Any]:
    """The weight files a model source names, by name, size and modification time: retrained or replaced
    weights make another clip, and the graph does not change when they do."""
    if source == "embedded":
        folder = embedded_model_folder()
    else:
        folder = resolve_input(source, base_dir)
        if not folder.is_dir() and "/" in source and not source.startswith((".", "/", "~")):
            folder = _hf_cache_folder(source)
    return [source, str(folder), _folder_stamp(folder)]


def _hf_cache_folder(repo_id: str) -> Path:
    """The Hugging Face cache's folder of ``repo_id``, where the runtime finds it (its constants, read now)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))


def _folder_stamp(folder: Path) -> list[Any]:
    """(relative name, size, mtime) of the files under ``folder`` (links to files followed, as the Hugging Face
    cache's snapshots are links to blobs; links to folders not)."""
    stamp: list[Any] = []
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp.append([os.path.relpath(path, folder), st.st_size, st.st_mtime_ns])
            if len(stamp) >= _STAMP_LIMIT:
                return stamp
    return stamp


def model_sources(graph: Graph, registry: NodeRegistry, nid: str, base_dir: Path | None
                  ) -> list[tuple[str, Path | None]]:
    """(model source, graph folder) of each model loader ``nid`` depends on (its role names the parameter)."""
    sources = []
    for up in sorted(graph.upstream([nid])):
        node = graph.nodes[up]
        spec = registry.get(node.type)
        if spec is not None and spec.roles.model_source and not node.bypassed:
            value = (spec.default_params() | node.params).get(spec.roles.model_source)
            if isinstance(value, str) and value:
                sources.append((value, base_dir))
    return sources


# ---- writing and reading records


def save(root: Path, key: str, values: dict[str, Any], written_since_ns: int) -> None:
    """Record the files ``values`` name (an exporter's outputs) under ``key`` in ``root``'s Studio folder, with
    the companions (.otio) written beside them since ``written_since_ns``. Nothing is recorded when a value is
    not a file inside ``root``; a record that cannot be written is logged, never a failed render."""
    try:
        real_root = root.resolve(strict=True)
        outputs: dict[str, str] = {}
        files: list[dict[str, Any]] = []
        for port, value in values.items():
            rel = _inside(real_root, _located(value)) if isinstance(value, str | Path) and value else None
            if rel is None:
                return
            outputs[port] = rel
            for name in [rel, *(_companion(real_root, rel, s, written_since_ns) for s in COMPANIONS)]:
                if name and all(f["name"] != name for f in files):
                    files.append(_file_entry(real_root, name))
        folder = _records_folder(real_root, create=True)
        if folder is None or not files:
            return
        body = {"version": RECORD_VERSION, "key": key, "outputs": outputs, "files": files}
        write_text_atomic(folder / f"{key}.json", json.dumps(dict(body, mac=_mac(body))))
    except OSError as exc:
        log.warning("could not record the export in %s (%s): a later render of the same work writes it again",
                    root, exc.strerror or exc)


def find(root: Path, key: str) -> Reuse | None:
    """The recorded result for ``key`` when every file it names is still in ``root`` with the bytes Studio
    wrote; None otherwise (no record, not ours, a file gone, changed or outside)."""
    try:
        real_root = root.resolve(strict=True)
        folder = _records_folder(real_root, create=False)
        if folder is None:
            return None
        path = folder / f"{key}.json"
        if path.is_symlink() or not path.is_file() or path.stat().st_size > RECORD_LIMIT:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("mac"), str):
        return None
    body = {k: v for k, v in data.items() if k != "mac"}
    if not hmac.compare_digest(data["mac"], _mac(body)):
        log.info("export record %s is not this user's: ignored", path.name)
        return None
    if body.get("version") != RECORD_VERSION or body.get("key") != key:
        return None
    outputs, files = body.get("outputs"), body.get("files")
    if not isinstance(outputs, dict) or not isinstance(files, list) or not files:
        return None
    for entry in files:
        if not isinstance(entry, dict) or not _unchanged(real_root, entry):
            return None
    names = [e["name"] for e in files]
    if not all(isinstance(v, str) and v in names for v in outputs.values()):
        return None
    return Reuse({port: str(real_root / rel) for port, rel in outputs.items()}, tuple(outputs.values()))


def _unchanged(real_root: Path, entry: dict[str, Any]) -> bool:
    name = entry.get("name")
    if not isinstance(name, str) or _inside(real_root, real_root / name) != name:
        return False  # outside the output folder (.., absolute, a link on the way): never read
    path = real_root / name
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size != entry.get("size"):
            return False
        return hmac.compare_digest(file_sha256(path), str(entry.get("sha256")))
    except OSError:
        return False


def _inside(real_root: Path, value: str | Path) -> str | None:
    """``value``'s name relative to ``real_root`` when it is a plain file name inside it, through no link."""
    path = Path(value)
    if not path.is_absolute() or ".." in path.parts:
        return None
    try:
        rel = path.relative_to(real_root)
    except ValueError:
        return None
    if not rel.parts or rel.parts[0] == STUDIO_FOLDER:
        return None
    step = real_root
    for part in rel.parts:
        step = step / part
        if step.is_symlink():
            return None
    return rel.as_posix()


def _located(value: str | Path) -> Path:
    """A file the exporter reported, by its real folder (a file chosen with -o may be named relatively, or
    through a link to its folder)."""
    path = Path(os.path.abspath(value))
    return path.parent.resolve() / path.name


def _companion(real_root: Path, rel: str, suffix: str, since_ns: int) -> str | None:
    side = (real_root / rel).with_suffix(suffix)
    try:
        fresh = side.is_file() and not side.is_symlink() and side.stat().st_mtime_ns >= since_ns
    except OSError:
        return None
    return _inside(real_root, side) if fresh else None


def _file_entry(real_root: Path, rel: str) -> dict[str, Any]:
    path = real_root / rel
    st = path.stat()
    return {"name": rel, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": file_sha256(path)}


def _records_folder(real_root: Path, *, create: bool) -> Path | None:
    """``real_root/.studio-history/exports``, or None when a part of it is a link or not a folder."""
    folder = real_root
    for part in (STUDIO_FOLDER, EXPORTS):
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return None
        if not folder.exists():
            if not create:
                return None
            folder.mkdir(exist_ok=True)
    return folder


def _mac(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(_secret(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _secret() -> bytes:
    """This user's key for signing records, made once (readable by the user only)."""
    path = config_dir() / SECRET_FILE
    with contextlib.suppress(OSError, ValueError):
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    fd, tmp = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", dir=path.parent)  # 0600
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
    if not place_new(Path(tmp), path):  # another process made it first: use theirs
        os.unlink(tmp)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:  # damaged: a new secret (the records made under the old one are written again once)
        fresh = secrets.token_hex(32)
        write_text_atomic(path, fresh, private=True)
        return bytes.fromhex(fresh)
