"""torch.compile on a loaded transformer: its repeated blocks (diffusers' regional compilation: most of the
speed for a fraction of the compile time) or the whole model; and a watch on every call that says when
compiling happened, how long it took and whether a later call compiled again (a recompile)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from studio.errors import ModelError

log = logging.getLogger(__name__)
COMPILE_CHOICES = ("off", "blocks", "full")


@dataclass
class CompileWatch:
    """Counts graphs dynamo compiled during the transformer's calls: the first call's are the compile, any
    later ones are recompiles (a guard failed: a new shape, a changed Python value)."""

    mode: str
    calls: int = 0
    graphs: int = 0  # compiled during the first call that compiled anything
    seconds: float = 0.0  # that call's time, compile included
    recompiles: int = 0
    _before: int = field(default=0, repr=False)
    _started: float = field(default=0.0, repr=False)

    def pre(self, _module, _args) -> None:
        self._before = _graph_count()
        self._started = time.perf_counter()

    def post(self, _module, _args, _output) -> None:
        self.calls += 1
        new = _graph_count() - self._before
        if new <= 0:
            return
        if self.graphs == 0:
            self.graphs, self.seconds = new, time.perf_counter() - self._started
            log.info("compile %s: %d graph(s) compiled in %.1f s on the first step", self.mode, new, self.seconds)
        else:
            self.recompiles += new
            log.warning("compile %s: recompiled %d graph(s) at call %d (a new size or setting); set "
                        "TORCH_LOGS=recompiles to see why", self.mode, new, self.calls)

    def describe(self) -> str:
        if self.graphs == 0:
            return f"compile {self.mode}: compiles on the first step"
        return (f"compile {self.mode}: {self.graphs} graph(s) in {self.seconds:.1f} s, "
                f"{self.recompiles} recompile(s) since")


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def apply_compile(pipe, mode: str) -> CompileWatch | None:
    """Compile the pipeline's transformer(s) in place (the module keeps its type, so LoRA loading, caching
    hooks and attention backends still find it); None when off. Compiling happens on the first step."""
    if mode not in COMPILE_CHOICES:
        raise ModelError(f"unknown compile '{mode}'", port="compile", hint="use off, blocks or full")
    if mode == "off":
        return None
    watch = CompileWatch(mode)
    for name in ("transformer", "transformer_2"):
        model = getattr(pipe, name, None)
        if model is None:
            continue
        if mode == "blocks":
            if not getattr(model, "_repeated_blocks", None):
                raise ModelError(f"{type(model).__name__} names no repeated blocks to compile", port="compile",
                                 hint="use compile 'full'")
            model.compile_repeated_blocks()
        else:
            # the forward, not the module's call: the watch's hooks stay outside the compiled code
            model.forward = torch.compile(model.forward)
        model.register_forward_pre_hook(watch.pre)
        model.register_forward_hook(watch.post)
    return watch


def compiler_available() -> bool:
    """Whether torch.compile can build code here (inductor on CPU needs a C++ compiler)."""
    import shutil

    return torch.cuda.is_available() or shutil.which("g++") is not None or shutil.which("c++") is not None
