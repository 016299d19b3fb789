"""Finding and loading diffusers video pipelines: sources, devices, dtypes, the transformer from a GGUF file or
quantized, offloading, attention and compile applied, LoRAs attached; model listing."""

from __future__ import annotations

import gc
import importlib
import inspect
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from studio import paths, warmup
from studio.errors import Cancelled, ModelError
from studio.runtime import families
from studio.runtime.loaded import BasePipeline, LoadedModel, LoadOptions, quiet, with_loras
from studio.runtime.lora import LoraSpec
from studio.runtime.model_files import (
    check_components,
    components,
    pipeline_class_name,
    read_model_index,
    refusal,
    weights_id,
)
from studio.runtime.offload import OFFLOAD_CHOICES
from studio.runtime.vocabulary import read_vocabulary

__all__ = ["BasePipeline", "LoadOptions", "LoadedModel", "LoraSpec", "ModelInfo", "list_models", "load_base",
           "load_model", "resolve_source", "with_loras"]

EMBEDDED = "embedded"
EMBEDDED_NAME = paths.EMBEDDED_MODEL_NAME
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# progress(done, total, message) while a model loads: done of total components, then total of total.
LoadProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ModelInfo:
    """A model Studio can offer: ``source`` is what to pass to load_model."""

    name: str
    source: str
    path: Path
    family: str
    class_name: str
    kind: str  # "embedded" | "folder" | "hf-cache"
    is_placeholder: bool = False
    refused: str = ""  # why load_model would refuse it (pickle-only weights, custom code); empty: usable


# --- devices and dtypes -------------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ModelError(
                "device 'mps' is not available on this machine", hint="use device 'auto' or 'cpu'"
            )
        return device
    if re.fullmatch(r"cuda(:\d+)?", device):
        if not torch.cuda.is_available():
            raise ModelError(
                f"device '{device}' is not available: this torch build or machine has no CUDA GPU",
                hint="use device 'auto' or 'cpu'",
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ModelError(
                f"device '{device}' does not exist: {torch.cuda.device_count()} CUDA device(s) found"
            )
        return device
    raise ModelError(f"unknown device '{device}'", hint="use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


def fit_cpu_threads() -> int:
    """Lower torch's CPU threads to the cores other processes leave free (at least one); returns the count.

    Measured with tests/benchmarks/bench_first_clip.py on a shared 2-core machine (load average 5-10): with
    torch's two intra-op threads the demo's 20 steps took 13-90 s, with one 1.8 s, as each thread waits for
    the other's busy core. On an idle machine nothing changes (the load we count as our own is the one thread
    loading the model), nor where others leave cores free (farm workers sized with torch_threads). Never
    raised; an explicit OMP_NUM_THREADS is kept.
    """
    current = torch.get_num_threads()
    if current <= 1 or os.environ.get("OMP_NUM_THREADS") or not hasattr(os, "getloadavg"):
        return current
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    others = max(0.0, os.getloadavg()[0] - 1.0)
    wanted = max(1, int(cores - others + 0.5))
    if wanted < current:
        torch.set_num_threads(wanted)
        return wanted
    return current


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    if dtype not in _DTYPES:
        raise ModelError(f"unknown dtype '{dtype}'", hint="use 'auto', 'float32', 'float16' or 'bfloat16'")
    return dtype


# --- sources ------------------------------------------------------------------------------------------


def placeholder_folder() -> Path:
    return paths.cache_dir() / "models" / "random-wan"


def embedded_folder() -> Path:
    return paths.embedded_model_folder()


def _hf_cache_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure here means "not in the cache"; we look further below
        pass
    try:
        from huggingface_hub import constants, scan_cache_dir

        for repo in scan_cache_dir(constants.HF_HUB_CACHE).repos:
            if repo.repo_id == repo_id and repo.repo_type == "model":
                revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
                if revisions:
                    return Path(revisions[0].snapshot_path)
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is the same as an empty one
        pass
    return None


def _hf_cache_location() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001
        return "the Hugging Face cache"


def resolve_source(source: str, base_dir: Path | None = None) -> Path:
    """The folder a model source names: a folder path, a Hugging Face repo id in the local cache, or "embedded"."""
    source = (source or "").strip()
    if not source:
        raise ModelError("no model given", hint="give a model folder, a Hugging Face repo id or 'embedded'")
    if source == EMBEDDED:
        if (embedded_folder() / "model_index.json").is_file():
            return embedded_folder()
        from studio.runtime.tiny import build_tiny_pipeline_once

        # The trained embedded model is not there yet: stand in a random-weight Wan built once, quietly.
        with quiet():
            return build_tiny_pipeline_once("wan", placeholder_folder(), task="ti2v", seed=0)
    candidate = Path(source).expanduser()
    looked: list[str] = []
    if not candidate.is_absolute() and base_dir is not None:
        candidate = Path(base_dir) / candidate
    if candidate.is_dir():
        return candidate.resolve()
    looked.append(f"folder '{candidate}'")
    if _REPO_ID.match(source):
        snapshot = _hf_cache_snapshot(source)
        if snapshot is not None:
            return snapshot
        looked.append(f"the Hugging Face cache ({_hf_cache_location()})")
        hint = (
            f"download it first (`huggingface-cli download {source}`) on a machine with network, "
            "or give the path of a model folder"
        )
    else:
        hint = "check the path, or give a Hugging Face repo id like 'org/name' that is in the local cache"
    raise ModelError(f"model '{source}' not found; looked in " + " and ".join(looked), hint=hint)


# studio_defaults.json (what the embedded model's training writes) names settings as diffusers' call does.
_DEFAULTS_FILE_KEYS = {"num_frames": "num_frames", "height": "height", "width": "width", "fps": "fps",
                       "num_inference_steps": "steps", "guidance_scale": "guidance"}


def _studio_settings(folder: Path) -> dict:
    """Recommended settings shipped with a model: studio.json ({"defaults": {...}}) or studio_defaults.json."""
    try:
        data = json.loads((folder / "studio.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        return data
    try:
        flat = json.loads((folder / "studio_defaults.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(flat, dict):
        return {}
    return {"defaults": {ours: flat[theirs] for theirs, ours in _DEFAULTS_FILE_KEYS.items() if theirs in flat}}


def load_model(
    source: str,
    options: LoadOptions = LoadOptions(),
    base_dir: Path | None = None,
    *,
    is_cancelled: Callable[[], bool] | None = None,
    on_progress: LoadProgress | None = None,
) -> LoadedModel:
    """Load a supported diffusers video pipeline from safetensors, locally, without remote code, with the
    LoRAs of ``options`` (see load_base and with_loras, which Load Model calls apart to share the base)."""
    base = load_base(source, options, base_dir, is_cancelled=is_cancelled, on_progress=on_progress)
    model = with_loras(base, options, base_dir)
    base.holders -= 1  # nobody else keeps this base: the model alone holds it
    return model


def check_options(options: LoadOptions, device: str) -> None:
    """Refuse options that cannot work, before anything loads."""
    from studio.runtime.attention import ATTENTION_CHOICES
    from studio.runtime.compile import COMPILE_CHOICES
    from studio.runtime.quantize import check_quantize

    if options.offload not in OFFLOAD_CHOICES:
        raise ModelError(f"unknown offload '{options.offload}'", port="offload", hint="use " + ", ".join(OFFLOAD_CHOICES))
    if options.compile not in COMPILE_CHOICES:
        raise ModelError(f"unknown compile '{options.compile}'", port="compile", hint="use off, blocks or full")
    if options.attention not in ATTENTION_CHOICES:
        raise ModelError(f"unknown attention '{options.attention}'", port="attention",
                         hint="use " + ", ".join(ATTENTION_CHOICES))
    check_quantize(options.quantize, device)
    if options.quantize != "none" and options.transformer_file:
        raise ModelError("a GGUF transformer is quantized already: quantize applies to the folder's transformer",
                         port="quantize", hint="set quantize to 'none', or empty 'transformer_file'")


def load_base(
    source: str,
    options: LoadOptions = LoadOptions(),
    base_dir: Path | None = None,
    *,
    is_cancelled: Callable[[], bool] | None = None,
    on_progress: LoadProgress | None = None,
) -> BasePipeline:
    """The pipeline without LoRAs: components loaded one at a time (``is_cancelled`` is asked between them, so
    a cancel waits for one component rather than the whole model; ``on_progress`` hears of each), the
    transformer from a GGUF file or quantized when asked, then placed, attention set and compile applied."""
    try:
        return _load_base(source, options, base_dir, is_cancelled, on_progress)
    finally:
        warmup.resume_gc()  # a command that paused collection while the stack loads: the model is in now


def _load_base(source: str, options: LoadOptions, base_dir: Path | None, is_cancelled, on_progress) -> BasePipeline:
    from studio.runtime import attention, offload
    from studio.runtime import compile as compiling
    from studio.runtime.quantize import check_gguf_file, module_bytes

    started = time.perf_counter()
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    check_options(options, device)
    backend = attention.pick_attention(options.attention, device)
    gguf = check_gguf_file(options.transformer_file, base_dir) if options.transformer_file else None
    folder = resolve_source(source, base_dir)
    index = read_model_index(folder)
    class_name = pipeline_class_name(index)
    spec = families.family_for_class(class_name)
    if spec is None:
        raise ModelError(
            f"'{class_name or 'no class'}' is not a video pipeline Studio supports",
            path=folder,
            hint="supported: " + families.supported_classes_text(),
        )
    check_components(folder, index)
    transformer = _TransformerSource(gguf, options.quantize)
    pipe = _load_pipeline(folder, index, class_name, _DTYPES[dtype], is_cancelled, on_progress, transformer)
    if is_cancelled is not None and is_cancelled():
        raise Cancelled()  # before moving gigabytes to the device
    if spec.vae_in_float32 and dtype != "float32":
        pipe.vae.to(torch.float32)
    notes = list(transformer.notes)
    sizes = {name: module_bytes(m) for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    choice = _offload_choice(options.offload, device, sizes)
    notes.append(f"offload {choice.mode}: {choice.reason}")
    offload.place(pipe, device, choice.mode)
    pipe.set_progress_bar_config(disable=True)
    vae = getattr(pipe, "vae", None)
    if options.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if options.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    with quiet():
        attention.apply_attention(pipe, backend.backend)
    notes.append(f"attention {backend.backend} ({backend.reason})")
    watch = compiling.apply_compile(pipe, options.compile)
    if watch is not None:
        notes.append(watch.describe())
    caps = families.capabilities(spec, pipe)
    if not caps:
        raise ModelError(
            f"this {spec.label} pipeline cannot run: its image encoder is missing",
            path=folder,
            hint="use the complete model folder, with image_encoder/ and image_processor/",
        )
    settings = _studio_settings(folder)
    name = EMBEDDED_NAME if source == EMBEDDED else folder.name if not _looks_like_snapshot(folder) else source
    return BasePipeline(
        pipe=pipe,
        name=name + transformer.name_suffix,
        source=folder,
        spec=spec,
        device=device,
        dtype=dtype,
        capabilities=caps,
        weights_bytes=sum(sizes.values()),
        weights_id=weights_id(folder) + transformer.id_suffix,
        defaults=families.model_defaults(spec, pipe, settings.get("defaults")),
        options=replace(options.without_loras(), offload=choice.mode),
        is_placeholder=folder.resolve() == placeholder_folder().resolve(),
        vocabulary=read_vocabulary(folder),
        notes=tuple(notes),
        compile_watch=watch,
        seconds=time.perf_counter() - started,
    )


def _offload_choice(wanted: str, device: str, sizes: dict[str, int]):
    from studio.runtime.offload import OffloadChoice, free_memory, pick_offload

    if wanted == "auto":
        import torch as _torch

        return pick_offload(free_memory(device), sizes, device=device, has_streams=_torch.cuda.is_available())
    if wanted != "none" and not device.startswith("cuda"):
        return OffloadChoice("none", f"'{wanted}' does nothing on {device}: the weights are in host memory already")
    return OffloadChoice(wanted, "as chosen")


@dataclass
class _TransformerSource:
    """How the transformer component loads: from a GGUF file, quantized by torchao, or as saved."""

    gguf: Path | None = None
    quantize: str = "none"
    notes: list[str] = field(default_factory=list)
    name_suffix: str = ""
    id_suffix: str = ""

    def load(self, cls: type, folder: Path, name: str, dtype: torch.dtype, kwargs: dict):
        from studio.runtime import quantize

        if self.gguf is not None:
            module = quantize.load_gguf_transformer(cls, self.gguf, folder, name, dtype)
            self.notes.append(f"transformer from {self.gguf.name}: {quantize.size_text(quantize.module_bytes(module))}")
            self.name_suffix = f" ({self.gguf.name})"
            self.id_suffix = "+gguf:" + quantize.file_id(self.gguf)
            return module
        if self.quantize == "none":
            return cls.from_pretrained(folder / name, **kwargs)
        module = cls.from_pretrained(folder / name, quantization_config=quantize.torchao_config(self.quantize),
                                     **kwargs)
        # what the weights would weigh unquantized, counted rather than loaded twice (a 14B model is 28 GB)
        before = sum(p.numel() for p in module.parameters()) * dtype.itemsize
        after = quantize.module_bytes(module)
        self.notes.append(f"quantize {self.quantize}: transformer weights {quantize.size_text(before)} -> "
                          f"{quantize.size_text(after)} (saved {quantize.size_text(before - after)})")
        self.name_suffix = f" ({self.quantize})"
        self.id_suffix = f"+{self.quantize}"
        return module


def _load_pipeline(
    folder: Path,
    index: dict,
    class_name: str,
    dtype: torch.dtype,
    is_cancelled: Callable[[], bool] | None,
    on_progress: LoadProgress | None,
    transformer: _TransformerSource | None = None,
):
    """The pipeline, its components loaded one by one, a cancel honoured between them.

    diffusers' from_pretrained loads every component in one call that a cancel cannot stop (7-9 s for a real
    model). Nor can it be handed the components loaded here: it reloads those its pipeline declares optional
    (Wan's transformer, measured with diffusers 0.42.1), so the pipeline is built as from_pretrained's own
    last step does: the class called with the components and the index's settings.
    """
    import diffusers

    pipeline_class = getattr(diffusers, class_name)
    takes = [p for p in inspect.signature(pipeline_class.__init__).parameters if p != "self"]
    pairs = {name: (library, cls) for name, library, cls in components(index)}
    wanted = [(name, *pairs[name]) for name in takes if name in pairs and pairs[name][0] is not None]
    # What the index sets that is not a component (Wan's boundary_ratio, expand_timesteps).
    settings = {name: index[name] for name in takes if name in index and name not in pairs}
    loaded: dict[str, Any] = {name: None for name in takes if name in pairs}
    total = len(wanted)
    try:
        with quiet():
            for done, (name, library, cls) in enumerate(wanted):
                if is_cancelled is not None and is_cancelled():
                    raise Cancelled()
                if on_progress is not None:
                    on_progress(done, total, f"loading {name}")
                loaded[name] = _load_component(folder, name, library, cls, dtype, transformer)
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            pipe = pipeline_class(**loaded, **settings)
            pipe.register_to_config(_name_or_path=folder)
    except (Cancelled, ModelError):
        loaded.clear()
        gc.collect()  # a cancelled load gives its memory back now, not at the next collection
        raise
    except Exception as exc:  # noqa: BLE001 - the libraries raise many types; the user needs one message
        raise ModelError(f"the model could not be loaded: {exc}", path=folder) from exc
    if on_progress is not None:
        on_progress(total, total, "loaded")
    return pipe


def _load_component(folder: Path, name: str, library: str, class_name: str, dtype: torch.dtype,
                    transformer: _TransformerSource | None = None):
    """One component with its own class's from_pretrained, as diffusers' loader calls it (``library`` is
    diffusers or transformers: refusal() has checked)."""
    cls = getattr(importlib.import_module(library), class_name, None)
    if not isinstance(cls, type) or not hasattr(cls, "from_pretrained"):
        raise ModelError(
            f"component '{name}' names '{class_name}', which the installed {library} does not have",
            path=folder / name,
            hint=f"the model may need a newer {library}",
        )
    path = folder / name if (folder / name).is_dir() else folder
    kwargs: dict[str, Any] = {"local_files_only": True}
    if issubclass(cls, torch.nn.Module):
        kwargs.update(use_safetensors=True, low_cpu_mem_usage=True)
        kwargs[_dtype_keyword(library)] = dtype
    if transformer is not None and name == "transformer" and library == "diffusers":
        return transformer.load(cls, folder, name, dtype, kwargs)
    return cls.from_pretrained(path, **kwargs)


def _dtype_keyword(library: str) -> str:
    # transformers 4.56 renamed torch_dtype to dtype (the old name warns); diffusers models take torch_dtype.
    if library != "transformers":
        return "torch_dtype"
    import transformers
    from packaging.version import Version

    installed = Version(Version(transformers.__version__).base_version)
    return "dtype" if installed >= Version("4.56") else "torch_dtype"


def _looks_like_snapshot(folder: Path) -> bool:
    return folder.parent.name == "snapshots"


# --- listing ------------------------------------------------------------------------------------------


def _info_for(folder: Path, source: str, kind: str, name: str | None = None) -> ModelInfo | None:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict):
        return None
    class_name = pipeline_class_name(index)
    spec = families.family_for_class(class_name)
    if spec is None:
        return None
    found = refusal(folder, index)
    reason = "" if found is None else f"{found.message} ({found.hint})"
    return ModelInfo(name or folder.name, source, folder, spec.name, class_name, kind, refused=reason)


def list_models(extra_folders: tuple[Path | str, ...] | list = ()) -> list[ModelInfo]:
    """The embedded model, models in the given folders (or their direct subfolders), and the HF cache's."""
    found: list[ModelInfo] = []
    models_dir = paths.RESOURCES / "models"
    embedded = _info_for(embedded_folder(), EMBEDDED, "embedded", EMBEDDED_NAME)
    if embedded is not None:
        found.append(embedded)
    else:
        found.append(
            ModelInfo(EMBEDDED_NAME, EMBEDDED, placeholder_folder(), "wan", "WanPipeline", "embedded", True)
        )
    if models_dir.is_dir():
        for sub in sorted(models_dir.iterdir()):
            if sub.is_dir() and sub.name != EMBEDDED_NAME:
                info = _info_for(sub, str(sub), "embedded")
                if info is not None:
                    found.append(info)
    for extra in extra_folders:
        folder = Path(extra).expanduser()
        candidates = (
            [folder]
            if (folder / "model_index.json").is_file()
            else sorted(p for p in folder.glob("*") if p.is_dir())
            if folder.is_dir()
            else []
        )
        for candidate in candidates:
            info = _info_for(candidate, str(candidate), "folder")
            if info is not None:
                found.append(info)
    found.extend(_hf_cache_models())
    return found


def _hf_cache_models() -> list[ModelInfo]:
    try:
        from huggingface_hub import constants, scan_cache_dir

        repos = scan_cache_dir(constants.HF_HUB_CACHE).repos
    except Exception:  # noqa: BLE001 - no cache yet, or one we cannot read: nothing to list
        return []
    found = []
    for repo in sorted(repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        latest = max(repo.revisions, key=lambda r: r.last_modified)
        info = _info_for(Path(latest.snapshot_path), repo.repo_id, "hf-cache", repo.repo_id)
        if info is not None:
            found.append(info)
    return found
