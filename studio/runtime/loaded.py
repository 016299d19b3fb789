"""What Load Model asks for (LoadOptions), and a loaded model as the engine passes it along: one base pipeline
(weights, placement, compile, attention) shared by every LoadedModel that differs from another only in its LoRAs
and their strengths.

Load Model caches the base under a key without the LoRA table and hands out a LoadedModel per table; each
LoadedModel makes its own adapters the active ones whenever its pipeline is asked for, so a strength changed
in the editor re-renders without reloading the base, and two cached LoadedModels of one base never render with
each other's strengths.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from studio.errors import ModelError
from studio.runtime import lora as loras_
from studio.runtime.families import FamilySpec
from studio.runtime.vocabulary import Vocabulary

if TYPE_CHECKING:
    from studio.runtime.compile import CompileWatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps"; auto picks cuda > mps > cpu
    dtype: str = "auto"  # "auto" | "float32" | "float16" | "bfloat16"
    offload: str = "none"  # "auto" | "none" | "model" | "group" | "sequential"; only takes effect on cuda
    vae_tiling: bool = False
    vae_slicing: bool = False
    loras: tuple[loras_.LoraSpec, ...] = ()  # diffusers-format .safetensors files (relative to base_dir), strengths
    transformer_file: str = ""  # a .gguf transformer replacing the folder's (relative to base_dir); "" for none
    quantize: str = "none"  # "none" | "int8" | "fp8": the transformer's weights, through torchao
    compile: str = "off"  # "off" | "blocks" | "full"
    attention: str = "auto"  # "auto" | "native" | "flash" | "sage" | "xformers"

    def without_loras(self) -> LoadOptions:
        """What the base pipeline depends on: everything but the LoRA table."""
        return replace(self, loras=())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the libraries' own progress bars; Studio shows progress through its engine events."""
    from diffusers.utils import logging as dlog
    from huggingface_hub import utils as hfu
    from transformers.utils import logging as tlog

    was = (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled(), hfu.are_progress_bars_disabled())
    level, tlevel = dlog.get_verbosity(), tlog.get_verbosity()
    # from_pipe and loading warn about things that are fine here (dtype casts of tiny modules; transformers'
    # "CLIPImageProcessor requires torchvision ... falling back to CLIPImageProcessorPil", which is what we want).
    dlog.set_verbosity(dlog.ERROR)
    tlog.set_verbosity(tlog.ERROR)
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    hfu.disable_progress_bars()
    try:
        yield
    finally:
        dlog.set_verbosity(level)
        tlog.set_verbosity(tlevel)
        if was[0]:
            dlog.enable_progress_bar()
        if was[1]:
            tlog.enable_progress_bar()
        if not was[2]:
            hfu.enable_progress_bars()


@dataclass(eq=False)
class BasePipeline:
    """A loaded pipeline with what it is and how it was loaded; the LoRA files it has taken, by content."""

    pipe: Any
    name: str
    source: Path
    spec: FamilySpec
    device: str
    dtype: str
    capabilities: frozenset[str]
    weights_bytes: int
    weights_id: str
    defaults: dict
    options: LoadOptions  # as loaded: offload resolved (auto -> the mode picked), no LoRAs
    is_placeholder: bool = False
    vocabulary: Vocabulary | None = None
    notes: tuple[str, ...] = ()  # what the load chose and measured, for the run's log
    compile_watch: CompileWatch | None = None
    seconds: float = 0.0
    adapters: dict[str, str] = field(default_factory=dict)  # LoRA digest -> adapter name in the pipeline
    digests: dict[tuple, str] = field(default_factory=dict)  # LoRA file stamp -> digest: hashed once
    active: tuple | None = None  # the (adapter, strength) pairs active now; None: not set yet
    task_pipes: dict = field(default_factory=dict, repr=False)
    previewer: Any = field(default=None, repr=False)
    device_obj: torch.device | None = field(default=None, repr=False)
    holders: int = 1  # the cache entry that keeps it, and each LoadedModel made from it

    @property
    def nbytes(self) -> int:
        # The engine's cache measures the LoadedModels, each of which holds this base: counting the base's own
        # entry as well would count the weights twice, and evict the base (then reload it) while in use.
        return 0

    def release(self) -> None:
        """One holder lets go; the weights are freed when none is left (a LoadedModel may outlive the cache
        entry of its base, and must never find its pipeline gone)."""
        self.holders -= 1
        if self.holders > 0 or self.pipe is None:
            return
        self.task_pipes.clear()
        self.pipe = None
        self.previewer = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@dataclass(eq=False)
class LoadedModel:
    """A loaded pipeline with its LoRAs, and what the engine needs to know about it."""

    base: BasePipeline
    options: LoadOptions
    loras: tuple[loras_.AppliedLora, ...] = ()
    _released: bool = field(default=False, repr=False)

    # what the base is, read through (the engine and the recipes read these as plain attributes)
    name = property(lambda self: self.base.name)
    source = property(lambda self: self.base.source)
    spec = property(lambda self: self.base.spec)
    family = property(lambda self: self.base.spec.name)
    device = property(lambda self: self.base.device)
    dtype = property(lambda self: self.base.dtype)
    capabilities = property(lambda self: self.base.capabilities)
    weights_id = property(lambda self: self.base.weights_id)
    defaults = property(lambda self: self.base.defaults)
    is_placeholder = property(lambda self: self.base.is_placeholder)
    vocabulary = property(lambda self: self.base.vocabulary)

    @property
    def nbytes(self) -> int:
        return self.base.weights_bytes

    @property
    def adapters(self) -> tuple[str, ...]:
        """The LoRAs applied, as 'file sha256:... @strength' (for the clip's Generation and credentials)."""
        return tuple(applied.record for applied in self.loras)

    @property
    def pipe(self):
        """The pipeline, with this model's LoRAs the active ones (set only when another model changed them);
        None once released."""
        base = self.base
        if base.pipe is None or self._released:
            return None  # released: the samplers say so ("load it again")
        wanted = tuple((a.adapter, a.strength) for a in self.loras)
        if base.active != wanted:
            loras_.activate(base.pipe, self.loras)
            base.active = wanted
        return base.pipe

    @property
    def _previewer(self):
        return self.base.previewer

    @_previewer.setter
    def _previewer(self, value) -> None:
        self.base.previewer = value  # a preview depends on the VAE and latents, not on the LoRAs

    @property
    def execution_device(self) -> torch.device:
        """Where the pipeline computes; asked once, because diffusers walks every module to answer."""
        if self.base.device_obj is None:
            self.base.device_obj = torch.device(self.pipe._execution_device)
        return self.base.device_obj

    def task_pipeline(self, task: str):
        """The pipeline class for ``task``, sharing the loaded components (built once, via from_pipe)."""
        pipe = self.pipe  # activates this model's LoRAs, which live in the shared components
        if pipe is None:
            raise ModelError(f"the model '{self.name}' was released; load it again")
        cached = self.base.task_pipes.get(task)
        if cached is not None:
            return cached
        import diffusers

        from studio.runtime.offload import place

        class_name = self.spec.pipelines[task]
        if type(pipe).__name__ != class_name:
            with quiet():
                pipe = getattr(diffusers, class_name).from_pipe(pipe)
            # from_pipe does not carry hooks over: offloading must be switched on for the new pipeline too.
            place(pipe, self.device, self.base.options.offload)
        pipe.set_progress_bar_config(disable=True)
        self.base.task_pipes[task] = pipe
        return pipe

    def release(self) -> None:
        """This model lets go of the base (once); the weights go when nothing else holds them."""
        if not self._released:
            self._released = True
            self.base.release()


def with_loras(base: BasePipeline, options: LoadOptions, base_dir: Path | None = None,
               node_id: str | None = None) -> LoadedModel:
    """A LoadedModel of ``base`` with ``options.loras`` (each file loaded into the base once, by content)."""
    applied = []
    seen: dict[str, str] = {}
    for spec in options.loras:
        if not spec.enabled:
            continue
        path = loras_.resolve_lora_path(spec.file, base_dir, node_id)
        stamp = loras_.file_stamp(path)
        digest = base.digests.get(stamp)
        if digest is None:
            digest = base.digests[stamp] = loras_.file_digest(path)
        if digest in seen:
            raise ModelError(f"this LoRA is in the table twice (also as '{seen[digest]}')", node_id=node_id,
                             port="loras", path=path, hint="keep one row and set its strength")
        seen[digest] = spec.file
        adapter = base.adapters.get(digest)
        if adapter is None:
            if base.pipe is None:
                raise ModelError(f"the model '{base.name}' was released; load it again", node_id=node_id)
            started = time.perf_counter()
            adapter = loras_.load_adapter(base.pipe, path, digest, base.spec.label, node_id)
            base.adapters[digest] = adapter
            base.active = None  # loading makes the new adapter active: set the wanted ones again
            log.info("LoRA %s loaded in %.2f s", path.name, time.perf_counter() - started)
        applied.append(loras_.AppliedLora(path, digest, adapter, spec.strength))
    base.holders += 1
    # the options as loaded (offload resolved: auto, or none off CUDA), with this model's LoRA table
    model = LoadedModel(base, replace(base.options, loras=options.loras), tuple(applied))
    model.pipe  # noqa: B018 - activate now, so a LoRA that cannot be set fails in Load Model, not mid-render
    return model
