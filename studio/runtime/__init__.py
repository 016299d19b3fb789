"""The model side of Studio: load diffusers video pipelines, sample with live previews, decode to frames."""

from studio.runtime.families import FAMILIES, FamilySpec
from studio.runtime.loading import (
    LoadedModel,
    LoadOptions,
    ModelInfo,
    list_models,
    load_model,
    resolve_source,
)
from studio.runtime.sampling import (
    Latents,
    PromptEmbeds,
    StepUpdate,
    VideoRequest,
    decode,
    encode_prompt,
    sample,
)

__all__ = [
    "FAMILIES",
    "FamilySpec",
    "Latents",
    "LoadOptions",
    "LoadedModel",
    "ModelInfo",
    "PromptEmbeds",
    "StepUpdate",
    "VideoRequest",
    "decode",
    "encode_prompt",
    "list_models",
    "load_model",
    "resolve_source",
    "sample",
]
