"""Finding and loading diffusers video pipelines: sources, devices, dtypes, offloading, model listing."""

from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio import paths
from studio.errors import Cancelled, ModelError
from studio.runtime import families
from studio.runtime.families import FamilySpec
from studio.runtime.model_files import (
    check_components,
    components,
    pipeline_class_name,
    read_model_index,
    refusal,
    weights_id,
)
from studio.runtime.vocabulary import Vocabulary, read_vocabulary

EMBEDDED = "embedded"
EMBEDDED_NAME = "studio-tiny"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# progress(done, total, message) while a model loads: done of total components, then total of total.
LoadProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps"; auto picks cuda > mps > cpu
    dtype: str = "auto"  # "auto" | "float32" | "float16" | "bfloat16"
    offload: str = "none"  # "none" | "model" | "sequential"; only takes effect on cuda
    vae_tiling: bool = False
    vae_slicing: bool = False
    lora: str = ""  # a diffusers-format LoRA .safetensors file (relative to base_dir); "" for none
    lora_scale: float = 1.0


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


@dataclass(eq=False)
class LoadedModel:
    """A loaded pipeline and what the engine needs to know about it."""

    name: str
    source: Path
    family: str
    device: str
    dtype: str
    capabilities: frozenset[str]
    nbytes: int
    weights_id: str
    defaults: dict
    pipe: Any
    spec: FamilySpec
    options: LoadOptions = field(default_factory=LoadOptions)
    is_placeholder: bool = False
    # The words the model knows, when its folder ships a list (studio_vocabulary.json); None: not checked.
    vocabulary: Vocabulary | None = None
    adapters: tuple[str, ...] = ()  # LoRAs applied, as "file sha256:... @scale" (for provenance)
    _task_pipes: dict = field(default_factory=dict, repr=False)
    _previewer: Any = field(default=None, repr=False)
    _device: torch.device | None = field(default=None, repr=False)

    @property
    def execution_device(self) -> torch.device:
        """Where the pipeline computes; asked once, because diffusers walks every module to answer."""
        if self._device is None:
            self._device = torch.device(self.pipe._execution_device)
        return self._device

    def task_pipeline(self, task: str):
        """The pipeline class for ``task``, sharing the loaded components (built once, via from_pipe)."""
        if self.pipe is None:
            raise ModelError(f"the model '{self.name}' was released; load it again")
        if task in self._task_pipes:
            return self._task_pipes[task]
        import diffusers

        class_name = self.spec.pipelines[task]
        if type(self.pipe).__name__ == class_name:
            pipe = self.pipe
        else:
            with quiet():
                pipe = getattr(diffusers, class_name).from_pipe(self.pipe)
            # from_pipe does not carry hooks over: offloading must be switched on for the new pipeline too.
            _place(pipe, self.device, self.options.offload if self.device.startswith("cuda") else "none")
        pipe.set_progress_bar_config(disable=True)
        self._task_pipes[task] = pipe
        return pipe

    def release(self) -> None:
        """Drop every reference to the weights so their memory can be reclaimed."""
        self._task_pipes.clear()
        self.pipe = None
        self._previewer = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


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
    return paths.RESOURCES / "models" / EMBEDDED_NAME


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


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the libraries' own progress bars; Studio shows progress through its engine events."""
    from diffusers.utils import logging as dlog
    from huggingface_hub import utils as hfu
    from transformers.utils import logging as tlog

    was = (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled(), hfu.are_progress_bars_disabled())
    level = dlog.get_verbosity()
    # from_pipe and loading warn about things that are fine here (dtype casts of tiny modules).
    dlog.set_verbosity(dlog.ERROR)
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    hfu.disable_progress_bars()
    try:
        yield
    finally:
        dlog.set_verbosity(level)
        if was[0]:
            dlog.enable_progress_bar()
        if was[1]:
            tlog.enable_progress_bar()
        if not was[2]:
            hfu.enable_progress_bars()


def _place(pipe, device: str, offload: str) -> None:
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def _module_bytes(pipe) -> int:
    total = 0
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            total += sum(t.numel() * t.element_size() for t in module.parameters())
            total += sum(t.numel() * t.element_size() for t in module.buffers())
    return total


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
    """Load a supported diffusers video pipeline from safetensors, locally, without remote code.

    Components load one at a time; ``is_cancelled`` is asked between them (raising Cancelled), so a cancel
    waits for at most one component rather than the whole model, and ``on_progress`` hears of each.
    """
    if options.offload not in ("none", "model", "sequential"):
        raise ModelError(f"unknown offload '{options.offload}'", hint="use 'none', 'model' or 'sequential'")
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
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
    pipe = _load_pipeline(folder, index, class_name, _DTYPES[dtype], is_cancelled, on_progress)
    if is_cancelled is not None and is_cancelled():
        raise Cancelled()  # before moving gigabytes to the device
    if spec.vae_in_float32 and dtype != "float32":
        pipe.vae.to(torch.float32)
    adapters = ()
    if options.lora:  # before placement, so the adapter's weights move (or offload) with the model's
        from studio.runtime.lora import apply_lora, resolve_lora_path

        path = resolve_lora_path(options.lora, base_dir)
        adapters = (apply_lora(pipe, path, options.lora_scale, spec.label),)
    offload = options.offload if device.startswith("cuda") else "none"
    _place(pipe, device, offload)
    pipe.set_progress_bar_config(disable=True)
    vae = getattr(pipe, "vae", None)
    if options.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if options.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    caps = families.capabilities(spec, pipe)
    if not caps:
        raise ModelError(
            f"this {spec.label} pipeline cannot run: its image encoder is missing",
            path=folder,
            hint="use the complete model folder, with image_encoder/ and image_processor/",
        )
    settings = _studio_settings(folder)
    is_placeholder = folder.resolve() == placeholder_folder().resolve()
    name = folder.name if not _looks_like_snapshot(folder) else source
    return LoadedModel(
        name=EMBEDDED_NAME if source == EMBEDDED else name,
        source=folder,
        family=spec.name,
        device=device,
        dtype=dtype,
        capabilities=caps,
        nbytes=_module_bytes(pipe),
        weights_id=weights_id(folder),
        defaults=families.model_defaults(spec, pipe, settings.get("defaults")),
        pipe=pipe,
        spec=spec,
        options=LoadOptions(options.device, options.dtype, offload, options.vae_tiling, options.vae_slicing,
                            options.lora, options.lora_scale),
        is_placeholder=is_placeholder,
        adapters=adapters,
        vocabulary=read_vocabulary(folder),
    )


def _load_pipeline(
    folder: Path,
    index: dict,
    class_name: str,
    dtype: torch.dtype,
    is_cancelled: Callable[[], bool] | None,
    on_progress: LoadProgress | None,
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
                loaded[name] = _load_component(folder, name, library, cls, dtype)
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


def _load_component(folder: Path, name: str, library: str, class_name: str, dtype: torch.dtype):
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
