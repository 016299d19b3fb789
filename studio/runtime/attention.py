"""The attention kernel a transformer runs with (diffusers' ``set_attention_backend``): auto picks the fastest
one installed for the device; a named one that is not installed is refused with what to install."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from studio.errors import ModelError

ATTENTION_CHOICES = ("auto", "native", "flash", "sage", "xformers")
# What each backend needs installed (diffusers checks too, but deep inside and after a download attempt for
# its "_hub" variants, which Studio never names: nothing is fetched at run time).
_PACKAGES = {"flash": ("flash_attn", "pip install flash-attn --no-build-isolation"),
             "sage": ("sageattention", "pip install sageattention"),
             "xformers": ("xformers", "pip install xformers (a build matching your torch)")}
# Fastest first on video DiTs: SageAttention about 2x FlashAttention (its paper, on CogVideoX and HunyuanVideo);
# flash before xformers before torch's own scaled_dot_product_attention.
_PREFERENCE = ("sage", "flash", "xformers")


@dataclass(frozen=True)
class AttentionChoice:
    backend: str
    reason: str


def installed(backend: str) -> bool:
    if backend == "native":
        return True
    package, _ = _PACKAGES[backend]
    return importlib.util.find_spec(package) is not None


def pick_attention(wanted: str, device: str, is_installed=installed) -> AttentionChoice:
    """The backend to use for ``wanted`` on ``device``; ``is_installed(name)`` says what is there."""
    if wanted not in ATTENTION_CHOICES:
        raise ModelError(f"unknown attention backend '{wanted}'", port="attention",
                         hint="use " + ", ".join(ATTENTION_CHOICES))
    if wanted == "auto":
        if not device.startswith("cuda"):
            return AttentionChoice("native", f"auto: on {device} only torch's own attention runs")
        for name in _PREFERENCE:
            if is_installed(name):
                return AttentionChoice(name, f"auto: {name} is the fastest installed")
        return AttentionChoice("native", "auto: no faster kernel installed (sage, flash, xformers), torch's own")
    if wanted != "native":
        if not device.startswith("cuda"):
            raise ModelError(f"attention '{wanted}' runs on a CUDA GPU only, and this model is on {device}",
                             port="attention", hint="use attention 'auto' or 'native'")
        if not is_installed(wanted):
            raise ModelError(f"attention '{wanted}' is not installed", port="attention",
                             hint=_PACKAGES[wanted][1] + ", or use 'auto'")
    return AttentionChoice(wanted, "as chosen")


def apply_attention(pipe, backend: str) -> None:
    """Switch the pipeline's transformer(s) to ``backend``. Native is set too, not left as the default: diffusers
    keeps the last backend set as a process-wide default, which an earlier model's 'sage' would otherwise be."""
    for name in ("transformer", "transformer_2"):
        model = getattr(pipe, name, None)
        if model is not None and hasattr(model, "set_attention_backend"):
            model.set_attention_backend(backend)
