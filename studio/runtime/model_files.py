"""A model folder as files, read before anything is imported: its index, its refusal, its weights identity."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import ModelError
from studio.graph.spec import printable

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
_ALLOWED_LIBRARIES = {"diffusers", "transformers", None}
_CONFIG_BYTES = 1 << 20  # component config files are a few kB; a bigger one is not read for auto_map


def read_model_index(folder: Path) -> dict:
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelError(
            "not a diffusers pipeline folder: it has no model_index.json",
            path=folder,
            hint="point at the folder that holds model_index.json, next to transformer/, vae/ and text_encoder/",
        )
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model_index.json cannot be read: {exc}", path=index_path) from exc
    if not isinstance(index, dict):
        raise ModelError("model_index.json is not a JSON object", path=index_path)
    return index


@dataclass(frozen=True)
class Refusal:
    """Why Studio will not load a pipeline folder, as ModelError takes it."""

    message: str
    path: Path
    hint: str


def components(index: dict) -> list[tuple[str, Any, Any]]:
    """(name, library, class name) of every component entry of a model_index.json."""
    return [
        (name, value[0], value[1])
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2
    ]


def _auto_map_file(sub: Path) -> Path | None:
    """A config file of the component that names code of its own (transformers' ``auto_map``)."""
    for config in sorted(sub.glob("*.json")):
        try:
            if config.stat().st_size > _CONFIG_BYTES:
                continue
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "auto_map" in data:
            return config
    return None


def refusal(folder: Path, index: dict) -> Refusal | None:
    """Why the pipeline in ``folder`` may not be loaded (None when it may): code from outside diffusers and
    transformers (a custom pipeline or component class, an ``auto_map``), or weights only in pickle files.
    Looks at files only; nothing is imported. ``load_model`` refuses with it and ``list_models`` shows it."""
    never = "only diffusers and transformers components are loaded (never remote code)"
    pipeline = index.get("_class_name")
    if isinstance(pipeline, list):
        module = f"{printable(pipeline[0])}.py" if pipeline and isinstance(pipeline[0], str) else "its own module"
        return Refusal(f"the pipeline is custom code ({module}), which Studio does not run", folder, never)
    if "auto_map" in index or "custom_pipeline" in index:
        return Refusal("model_index.json asks for custom code, which Studio does not run", folder, never)
    for name, library, class_name in components(index):
        if library is None and class_name is None:
            continue
        sub = folder / name
        # Names from the file are escaped: these messages reach the terminal (studio models, render errors).
        name, shown = printable(name), printable(str(library))
        if not isinstance(library, str | None) or library not in _ALLOWED_LIBRARIES:
            shipped = isinstance(library, str) and (sub / f"{library}.py").is_file()
            where = f" ({name}/{shown}.py)" if shipped else ""
            return Refusal(
                f"component '{name}' needs code from '{shown}'{where}, which Studio does not run",
                folder,
                never,
            )
        if not sub.is_dir():
            continue
        config = _auto_map_file(sub)
        if config is not None:
            return Refusal(
                f"component '{name}' asks for custom code (auto_map in {name}/{printable(config.name)}), which Studio "
                "does not run",
                sub,
                never,
            )
        files = [p for p in sub.rglob("*") if p.is_file()]
        has_safetensors = any(p.suffix == ".safetensors" for p in files)
        pickled = [printable(p.name) for p in files if p.suffix in PICKLE_SUFFIXES]
        if pickled and not has_safetensors:
            return Refusal(
                f"component '{name}' has only pickle weights ({', '.join(sorted(pickled)[:3])}), "
                "which can run code when loaded",
                sub,
                "convert the weights to safetensors (for example load and save_pretrained(safe_serialization=True))",
            )
    return None


def check_components(folder: Path, index: dict) -> None:
    """Refuse code from outside diffusers/transformers and pickled weights, before anything is imported."""
    found = refusal(folder, index)
    if found is not None:
        raise ModelError(found.message, path=found.path, hint=found.hint)


def pipeline_class_name(index: dict) -> str:
    """The pipeline class a model_index.json names; for a custom pipeline ([module, class]) the class."""
    value = index.get("_class_name", "")
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return str(value)


def weights_id(folder: Path) -> str:
    """A cheap, stable identity of the weights: name, size, first and last MiB of every safetensors file.

    Remembered by the files' stat stamps (size, modification and change times, inode), here and across
    runs in the cache folder: the files are read again only when one of them changed. Reading takes two MiB
    per file (5 ms for the embedded model from a warm disk; a sharded real model on a cold disk, far more);
    a remembered id costs a stat per file."""
    files = sorted(folder.rglob("*.safetensors"))
    stamps = [_stamp(path, folder) for path in files]
    key = str(folder.resolve())
    known = _ids.get(key) or _stored_ids().get(key)
    if isinstance(known, dict) and known.get("stamps") == stamps and isinstance(known.get("id"), str):
        _ids[key] = known
        return known["id"]
    found = _read_weights_id(folder, files)
    _ids[key] = {"stamps": stamps, "id": found}
    _store_id(key, _ids[key])
    return found


def _read_weights_id(folder: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    chunk = 1 << 20
    for path in files:
        size = path.stat().st_size
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            digest.update(handle.read(chunk))
            if size > chunk:
                handle.seek(max(chunk, size - chunk))
                digest.update(handle.read(chunk))
    return digest.hexdigest()[:32]


# folder -> {"stamps": [...], "id": ...}; what this process has seen, before the cache file
_ids: dict[str, dict] = {}
_MAX_STORED = 64  # folders kept in the cache file (the oldest go first)


def _stamp(path: Path, folder: Path) -> list:
    st = path.stat()
    # ctime changes with any write and cannot be set back by a program, unlike mtime
    return [path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _ids_file() -> Path:
    from studio import paths

    return paths.cache_dir() / "weights-ids.json"


def _stored_ids() -> dict:
    try:
        data = json.loads(_ids_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store_id(key: str, entry: dict) -> None:
    """Remember ``entry`` in the cache file; a cache that cannot be written only costs the next run a read."""
    from studio.fileio import write_text_atomic

    stored = _stored_ids()
    stored.pop(key, None)
    stored[key] = entry
    kept = dict(list(stored.items())[-_MAX_STORED:])
    try:
        write_text_atomic(_ids_file(), json.dumps(kept))
    except OSError:
        pass
