"""The model side of Studio: load diffusers video pipelines, sample with live previews, decode to frames."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Lazy re-exports: a light module of this package (a model folder's files, its vocabulary) must not load
# torch and diffusers behind it (seconds), and `python -m studio.runtime.vocabulary` must not import itself
# twice through this file.
_EXPORTS = {
    "FAMILIES": "families",
    "FamilySpec": "families",
    "LoadedModel": "loading",
    "LoadOptions": "loading",
    "ModelInfo": "loading",
    "list_models": "loading",
    "load_model": "loading",
    "resolve_source": "loading",
    "Latents": "sampling",
    "PromptEmbeds": "sampling",
    "StepUpdate": "sampling",
    "VideoRequest": "sampling",
    "decode": "sampling",
    "encode_prompt": "sampling",
    "sample": "sampling",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from studio.runtime.families import FAMILIES, FamilySpec  # noqa: F401
    from studio.runtime.loading import (  # noqa: F401
        LoadedModel,
        LoadOptions,
        ModelInfo,
        list_models,
        load_model,
        resolve_source,
    )
    from studio.runtime.sampling import (  # noqa: F401
        Latents,
        PromptEmbeds,
        StepUpdate,
        VideoRequest,
        decode,
        encode_prompt,
        sample,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.runtime' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"studio.runtime.{module}"), name)
    globals()[name] = value  # asked once: later lookups are plain attribute reads
    return value
