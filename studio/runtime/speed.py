"""Step caching: skip most of the transformer on steps where it would barely change its answer.

Applied through diffusers' own cache hooks (``transformer.enable_cache``) around one pipeline call and removed
after it, so every render starts from an empty cache and a render without the setting runs the plain model.
The pipelines of every family Studio runs wrap each transformer call in ``cache_context`` themselves (cond and
uncond passes keep separate caches), so nothing else is needed in the denoising loop.

A cached clip is an approximation of the uncached one: the setting is part of the render's cache key, and
tests/benchmarks/bench_step_cache.py measures how far (PSNR) and how fast, side by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from studio.errors import ModelError

STEP_CACHES = ("off", "first_block")

# FirstBlockCache compares the first block's residual with the previous step's (relative mean absolute
# difference): below the threshold the remaining blocks are skipped and their cached residual reused.
# The default is the largest threshold that kept every measured clip of the embedded model (20 steps, 2
# prompts x 5 seeds) above 30 dB PSNR against the uncached clip: at 0.06 it skips nothing there, 0.07 already
# dips to 28.6 dB in one clip, 0.1 is ~1.2x at 18.6 dB minimum (tests/benchmarks/bench_step_cache.py).
# Models whose steps change less from one to the next (more steps, larger models) skip more at this value.
DEFAULT_THRESHOLDS = {"first_block": 0.06}


def describe(method: str, threshold: float) -> str:
    """How a render was sped up, for logs and records; '' when it was not."""
    if method == "off":
        return ""
    return f"{method}@{effective_threshold(method, threshold):g}"


def effective_threshold(method: str, threshold: float) -> float:
    """The threshold a render uses: the method's default when none (0) is given."""
    return float(threshold) if threshold and threshold > 0 else DEFAULT_THRESHOLDS.get(method, 0.0)


def _config(method: str, threshold: float):
    from diffusers.hooks import FirstBlockCacheConfig

    if method == "first_block":
        return FirstBlockCacheConfig(threshold=effective_threshold(method, threshold))
    raise ModelError(f"unknown step cache {method!r}", hint=f"choose one of {', '.join(STEP_CACHES)}")


def _transformers(pipe) -> list:
    # Wan 2.2's two-expert models denoise with transformer_2 for the low-noise steps: cache both.
    found = [getattr(pipe, name, None) for name in ("transformer", "transformer_2")]
    return [t for t in found if t is not None]


@contextmanager
def step_cache(pipe, method: str, threshold: float = 0.0, label: str = "the model") -> Iterator[None]:
    """Cache steps of ``pipe``'s transformer(s) for the duration of one pipeline call (no-op when 'off')."""
    if method == "off":
        yield
        return
    if method not in STEP_CACHES:
        raise ModelError(f"unknown step cache {method!r}", hint=f"choose one of {', '.join(STEP_CACHES)}")
    if effective_threshold(method, threshold) <= 0:
        raise ModelError(f"the step cache threshold must be above 0 (got {threshold})")
    enabled = []
    try:
        for transformer in _transformers(pipe):
            if not hasattr(transformer, "enable_cache"):
                raise ModelError(f"{label} cannot cache steps: its transformer has no cache hooks",
                                 hint="set step_cache to 'off'")
            if transformer.is_cache_enabled:  # left over from an interrupted render: start clean
                transformer.disable_cache()
            try:
                transformer.enable_cache(_config(method, threshold))
            except ValueError as exc:  # diffusers does not know this transformer's blocks
                raise ModelError(f"{label} cannot use the '{method}' step cache: {exc}",
                                 hint="set step_cache to 'off'") from exc
            except IndexError as exc:  # first_block needs a head block and a tail to skip
                raise ModelError(f"{label} cannot use the '{method}' step cache: its transformer has fewer "
                                 "than two blocks", hint="set step_cache to 'off'") from exc
            enabled.append(transformer)
        yield
    finally:
        # Removing the hooks drops their state with them: the next render starts with an empty cache.
        for transformer in enabled:
            transformer.disable_cache()
