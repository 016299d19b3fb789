"""How a camera track steers a loaded model: valid clip lengths, warped starting noise, guide clips.

The runtime (and torch) are imported inside the functions: this module loads with the node library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.directing import DirectingError
from studio.directing.camera import CameraTrack
from studio.directing.warp import guide_clip, warped_noise

CAMERA_MODES = ("guide", "noise")
GUIDE_PASS = "camera guide"  # the first pass of guide mode without a picture: the frame the camera looks at
CLIP_PASS = "video"


def pass_message(number: int, count: int, what: str) -> str:
    """How a render of several passes names the one running in its progress message ("pass 1 of 2: camera
    guide"): the editor shows it on the node, the queue and the status bar (studio/ui/shell/passes.py), since
    the step counter starts again with each pass."""
    return f"pass {number} of {count}: {what}"


def frame_step(model: Any) -> int:
    """Valid clip lengths are step*k + 1 for this model."""
    from studio.runtime import families

    geo = families.geometry(model.spec, model.pipe)
    return geo.temporal * geo.latent_frame_multiple


def noise_for(model: Any, track: CameraTrack, num_frames: int, height: int, width: int, seed: int):
    """Starting latents that move with the camera, shaped as the model's pipeline takes them (a torch tensor)."""
    import torch

    from studio.runtime import families

    pipe = model.pipe
    geo = families.geometry(model.spec, pipe)
    cfg = pipe.vae.config
    channels = int(getattr(cfg, "z_dim", None) or cfg.latent_channels)
    frames = geo.latent_frames(num_frames)
    h, w = height // geo.spatial, width // geo.spatial
    noise = warped_noise(track, channels, frames, h, w, geo.temporal, seed)  # [C, F, h, w]
    layout = model.spec.layout
    if layout == "bcfhw":
        tensor = torch.from_numpy(noise)[None]
    elif layout == "bfchw":
        extra = (-frames) % geo.latent_frame_multiple
        if extra:  # CogVideoX 1.5 pads latent frames at the front; canonical_latents drops them again
            pad = np.random.default_rng(seed + 1).standard_normal((channels, extra, h, w)).astype(np.float32)
            noise = np.concatenate([pad, noise], axis=1)
        tensor = torch.from_numpy(np.ascontiguousarray(noise.transpose(1, 0, 2, 3)))[None]
    elif layout == "packed":
        tensor = torch.from_numpy(np.ascontiguousarray(noise.transpose(1, 2, 3, 0).reshape(-1, channels)))[None]
    else:
        raise DirectingError(f"noise warping does not know the latent layout '{layout}'")
    return tensor


def with_starting_noise(embeds: Any, request: Any, latents: Any) -> Any:
    """Hand the starting latents to the sampler (VideoRequest.noise); the embeds pass through unchanged."""
    request.noise = latents
    return embeds


def keyframe_from_text(model: Any, embeds: Any, width: int, height: int, steps: int, guidance: float, seed: int,
                       on_step=None, is_cancelled=lambda: False) -> np.ndarray:
    """One frame rendered from the prompt alone: what the camera looks at when no reference image is given."""
    from studio import runtime

    if "t2v" not in model.capabilities:
        raise DirectingError(f"the model '{model.name}' cannot draw a first frame from text for the camera",
                             hint="connect a reference image, or use camera mode 'noise'")
    request = runtime.VideoRequest(num_frames=1, height=height, width=width, steps=steps, guidance=guidance,
                                   seed=seed, preview=False)
    latents = runtime.sample(model, embeds, request, on_step=on_step, is_cancelled=is_cancelled)
    return runtime.decode(model, latents)[0]


def render_along(model: Any, prompt: str, track: CameraTrack, method: str, *, width: int, height: int,
                 steps: int, guidance: float, seed: int, strength: float = 0.7,
                 picture: np.ndarray | None = None, negative: str = "") -> np.ndarray:
    """Render one clip steered along ``track`` by ``method`` (none | guide | noise), outside the engine.

    The same steps the Generate Video node takes, for benchmarks and adherence tests: ``picture``
    (uint8, already at width x height) is the first frame; without it, guide mode draws one from the prompt.
    """
    from studio import runtime

    if method not in ("none", *CAMERA_MODES):
        raise DirectingError(f"unknown steering method '{method}'", hint="use none, guide or noise")
    embeds = runtime.encode_prompt(model, prompt, negative, guidance)
    num_frames = track.num_frames
    request = runtime.VideoRequest(num_frames=num_frames, height=height, width=width, steps=steps,
                                   guidance=guidance, seed=seed, strength=strength, preview=False, image=picture)
    if method == "guide":
        start = picture if picture is not None else keyframe_from_text(model, embeds, width, height, steps,
                                                                       guidance, seed)
        request.video, request.image = guide_clip(start, track), None
    elif method == "noise":
        embeds = with_starting_noise(embeds, request, noise_for(model, track, num_frames, height, width, seed))
    return runtime.decode(model, runtime.sample(model, embeds, request))
