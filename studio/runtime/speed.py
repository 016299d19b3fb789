"""Speed settings: skip work on denoising steps where the model would barely change its answer.

A setting is ``off``, a preset (``balanced``, ``fast``: resolved per model by studio.runtime.fidelity from what
``studio bench-speed`` measured) or one diffusers cache method with its knob, ``method@value``:

- ``first_block@T``: First Block Cache. The first block's residual is compared with the previous step's
  (relative mean absolute difference); below T the remaining blocks are skipped and their cached residual
  reused. Higher T skips more.
- ``taylorseer@N``: TaylorSeer (lite). The whole block stack runs every N-th step; in between, the output
  projection's input is predicted by a first-order Taylor step. Higher N skips more.
- ``pab@N``: Pyramid Attention Broadcast. Self-attention runs every N-th step in the middle of the schedule
  and its output is reused in between (the feed-forward still runs). Higher N skips more.

Left out, measured on this diffusers (0.42.1) with the tiny Wan, LTX and CogVideoX pipelines: FasterCache
fails on Wan ("tuple index out of range": Wan runs the guidance passes separately, FasterCache expects them
batched) and on LTX (its packed [B, tokens, C] latents); MagCache needs per-model ratios from a calibration run
(diffusers ships them for Flux only); SeaCache has adapters for Cosmos only.

Applied through diffusers' own hooks (``transformer.enable_cache``) around one pipeline call and removed after
it, so every render starts from an empty cache and a render without a setting runs the plain model. The
pipelines of every family Studio runs wrap each transformer call in ``cache_context`` themselves (cond and
uncond passes keep separate caches), so nothing else is needed in the denoising loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from studio.errors import ModelError

OFF = "off"
PRESETS = ("balanced", "fast")


@dataclass(frozen=True)
class Method:
    """One cache method: its knob, the value it uses when none is given, and what bench-speed tries."""

    name: str
    knob: str  # what the number after '@' is
    whole: bool  # the knob is a whole number of steps
    default: float
    low: float  # smallest value that means anything
    high: float
    candidates: tuple[float, ...]  # measured by `studio bench-speed` when no --settings are given
    faster: str  # which way is faster, for messages


METHODS = {
    # The default 0.06 is the largest threshold that kept every measured clip of the embedded model above
    # 30 dB PSNR (tests/benchmarks/bench_step_cache.py); models whose steps change less skip more at it.
    "first_block": Method("first_block", "threshold", False, 0.06, 0.0, 1.0,
                          (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3), "higher"),
    "taylorseer": Method("taylorseer", "interval", True, 2, 2, 20, (2, 3, 4), "higher"),
    "pab": Method("pab", "skip range", True, 2, 2, 20, (2, 3, 4), "higher"),
}
# A step cache needs a few full steps before it can predict anything: TaylorSeer starts after these.
_TAYLOR_WARMUP = 2
# PAB reuses attention only in the middle of the schedule (timesteps in this range of 0..1000), where the
# attention maps change least; the first and last steps always compute.
_PAB_RANGE = (100, 800)


@dataclass(frozen=True)
class Setting:
    """A concrete speed setting: one method and its knob."""

    method: str
    value: float

    def __str__(self) -> str:
        return f"{self.method}@{self.value:g}"


def choices_text() -> str:
    methods = ", ".join(f"{m.name}@<{m.knob}>" for m in METHODS.values())
    return f"off, balanced, fast, or {methods} (e.g. first_block@0.08, taylorseer@3, pab@2)"


def parse(text: str) -> Setting | None:
    """A concrete setting from its text; None for 'off'. Presets are not concrete: see fidelity.resolve."""
    raw = (text or OFF).strip().lower()
    if raw == OFF:
        return None
    if raw in PRESETS:
        raise ModelError(f"'{raw}' is a preset, not a setting: it is chosen per model",
                         hint="resolve it with studio.runtime.fidelity.resolve")
    name, _, value = raw.partition("@")
    method = METHODS.get(name)
    if method is None:
        raise ModelError(f"unknown speed setting {text!r}", hint=f"use {choices_text()}")
    if not value:
        return Setting(name, method.default)
    try:
        number = float(value)
    except ValueError:
        raise ModelError(f"the speed setting {text!r} needs a number after '@' ({method.knob})",
                         hint=f"for example {name}@{method.candidates[1]:g}") from None
    if method.whole and number != int(number):
        raise ModelError(f"the {name} {method.knob} must be a whole number of steps (got {value})")
    if not method.low <= number <= method.high or (not method.whole and number <= 0):
        raise ModelError(f"the {name} {method.knob} must be in ({method.low:g}, {method.high:g}] (got {value})",
                         hint=f"{method.faster} is faster and less faithful")
    return Setting(name, number)


def is_valid(text: str) -> bool:
    """Whether ``text`` is a speed setting or preset a Generate node may hold."""
    if (text or "").strip().lower() in PRESETS:
        return True
    try:
        parse(text)
    except ModelError:
        return False
    return True


def candidates() -> list[Setting]:
    """Every setting bench-speed measures when told nothing else, cheapest-to-skip first per method."""
    return [Setting(m.name, v) for m in METHODS.values() for v in m.candidates]


def _config(setting: Setting, pipe):
    from diffusers.hooks import FirstBlockCacheConfig, PyramidAttentionBroadcastConfig, TaylorSeerCacheConfig

    if setting.method == "first_block":
        return FirstBlockCacheConfig(threshold=setting.value)
    if setting.method == "taylorseer":
        import torch

        # float32 factors: the default bfloat16 rounds the predicted features visibly on small models
        return TaylorSeerCacheConfig(cache_interval=int(setting.value), disable_cache_before_step=_TAYLOR_WARMUP,
                                     use_lite_mode=True, taylor_factors_dtype=torch.float32)
    if setting.method == "pab":
        # The hook asks the pipeline which timestep it is on (every family's pipeline keeps it).
        return PyramidAttentionBroadcastConfig(spatial_attention_block_skip_range=int(setting.value),
                                               spatial_attention_timestep_skip_range=_PAB_RANGE,
                                               current_timestep_callback=lambda: _timestep(pipe))
    raise ModelError(f"unknown speed method {setting.method!r}", hint=f"use {choices_text()}")


def _timestep(pipe) -> float:
    t = pipe.current_timestep
    return float(t.flatten()[0]) if hasattr(t, "flatten") else float(t if t is not None else 0)


def _transformers(pipe) -> list:
    # Wan 2.2's two-expert models denoise with transformer_2 for the low-noise steps: cache both.
    found = [getattr(pipe, name, None) for name in ("transformer", "transformer_2")]
    return [t for t in found if t is not None]


@contextmanager
def step_cache(pipe, setting: Setting | None, label: str = "the model") -> Iterator[None]:
    """Apply ``setting`` to ``pipe``'s transformer(s) for the duration of one pipeline call (None: nothing)."""
    if setting is None:
        yield
        return
    hint = "set Generate Video's speed to 'off'"
    enabled = []
    try:
        for transformer in _transformers(pipe):
            if not hasattr(transformer, "enable_cache"):
                raise ModelError(f"{label} cannot cache steps: its transformer has no cache hooks", hint=hint)
            if transformer.is_cache_enabled:  # left over from an interrupted render: start clean
                transformer.disable_cache()
            try:
                transformer.enable_cache(_config(setting, pipe))
            except ValueError as exc:  # diffusers does not know this transformer's blocks
                raise ModelError(f"{label} cannot use the speed setting '{setting}': {exc}", hint=hint) from exc
            except IndexError as exc:  # first_block needs a head block and a tail to skip
                raise ModelError(f"{label} cannot use the speed setting '{setting}': its transformer has fewer "
                                 "than two blocks", hint=hint) from exc
            enabled.append(transformer)
        yield
    finally:
        # Removing the hooks drops their state with them: the next render starts with an empty cache.
        for transformer in enabled:
            transformer.disable_cache()
