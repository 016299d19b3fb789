"""Prompt encoding, sampling with streamed whole-clip previews and cancellation, and decoding to frames."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import NoReturn

import numpy as np
import torch
from PIL import Image

from studio.errors import Cancelled, ModelError, OutOfMemoryError, StudioError
from studio.runtime import families, preview, speed
from studio.runtime.families import TASK_WORDS
from studio.runtime.loading import LoadedModel, quiet
from studio.runtime.watching import previews_watched

_OOM_HINT = "try offload='model' (or 'sequential'), vae_tiling=True, or fewer frames / a smaller size"


@dataclass(frozen=True, eq=False)
class PromptEmbeds:
    """Encoded prompt (and negative prompt when guidance needs it); reusable across seeds and requests."""

    tensors: dict = field(repr=False)  # the pipeline's keyword -> tensor
    prompt: str = ""
    negative_prompt: str = ""
    with_negative: bool = True
    weights_id: str = ""

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


@dataclass
class VideoRequest:
    num_frames: int
    height: int
    width: int
    steps: int = 20
    guidance: float = 5.0
    seed: int = 0
    image: np.ndarray | None = None  # uint8 [H, W, 3], first frame (image-to-video)
    video: np.ndarray | None = None  # uint8 [T, H, W, 3], guide clip (video-to-video)
    strength: float = 0.7  # video-to-video: how far from the guide clip
    preview: bool = True
    # Starting latents in the pipeline's own layout (e.g. noise warped along a camera move); None draws
    # fresh noise from the seed.
    noise: torch.Tensor | None = None
    reference: np.ndarray | None = None  # uint8 [H, W, 3], a subject to keep (families that take one: VACE)
    # A concrete speed setting (studio.runtime.speed): "off" or "method@value"; the presets 'balanced' and
    # 'fast' are resolved per model before (studio.runtime.fidelity.resolve).
    speed: str = "off"
    speed_reason: str = ""  # why that setting (a preset's choice, a draft), for the run's log and the record
    fps: float | None = None  # the clip's frame rate; None: the model's default (LTX places tokens in seconds)


@dataclass
class StepUpdate:
    step: int  # 1-based
    total: int
    preview: np.ndarray | None  # uint8 [T, h, w, 3]: the whole clip at latent resolution (or a small upscale)


@dataclass
class Latents:
    """Denoised latents on the CPU ([B, C, F, H, W], pipeline space) and what decode needs."""

    tensor: torch.Tensor = field(repr=False)
    family: str
    weights_id: str
    num_frames: int
    height: int
    width: int
    seed: int
    task: str

    @property
    def nbytes(self) -> int:
        return self.tensor.numel() * self.tensor.element_size()


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_device_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _raise_translated(exc: Exception, what: str, model: LoadedModel) -> NoReturn:
    """Our own errors pass through; OOM and the libraries' errors become messages a person can act on."""
    if isinstance(exc, (StudioError, Cancelled)):
        raise exc
    if _is_oom(exc):
        _free_device_memory()
        raise OutOfMemoryError(f"{model.device} ran out of memory while {what}", hint=_OOM_HINT) from exc
    detail = str(exc) or type(exc).__name__
    raise ModelError(f"{model.spec.label} failed while {what}: {detail}") from exc


def _pipe(model: LoadedModel):
    if model.pipe is None:
        raise ModelError(f"the model '{model.name}' was released; load it again")
    return model.pipe


@torch.no_grad()
def encode_prompt(
    model: LoadedModel, prompt: str, negative_prompt: str = "", guidance: float = 5.0
) -> PromptEmbeds:
    """Run the text encoder once; the result is reused by every sample() with this model."""
    pipe = _pipe(model)
    spec = model.spec
    with_negative = guidance > 1.0
    try:
        outputs = pipe.encode_prompt(
            prompt=prompt,
            negative_prompt=negative_prompt,
            do_classifier_free_guidance=with_negative,
            num_videos_per_prompt=1,
            max_sequence_length=spec.max_sequence_length(pipe),
            device=model.execution_device,
        )
    except Exception as exc:  # noqa: BLE001
        _raise_translated(exc, "encoding the prompt", model)
    tensors = {
        name: value.detach()
        for name, value in zip(spec.prompt_outputs, outputs, strict=True)
        if value is not None and (with_negative or not name.startswith("negative"))
    }
    return PromptEmbeds(tensors, prompt, negative_prompt, with_negative, model.weights_id)


def _task_of(model: LoadedModel, request: VideoRequest) -> str:
    if request.image is not None and request.video is not None:
        raise ModelError("give either a first image or a guide video, not both")
    task = "v2v" if request.video is not None else "i2v" if request.image is not None else "t2v"
    if task not in model.capabilities:
        can = ", ".join(TASK_WORDS[t] for t in families.TASKS if t in model.capabilities)
        raise ModelError(
            f"the model '{model.name}' cannot do {TASK_WORDS[task]}; it can do {can}",
            hint="use a model made for it, or remove the "
            + ("image" if task == "i2v" else "video")
            + " input",
        )
    return task


def _check_request(model: LoadedModel, embeds: PromptEmbeds, request: VideoRequest, task: str) -> None:
    if embeds.weights_id != model.weights_id:
        raise ModelError("the prompt was encoded with another model; encode it again with this one")
    if request.guidance > 1.0 and not embeds.with_negative:
        raise ModelError(
            f"guidance {request.guidance} needs the negative prompt, but the prompt was encoded for guidance <= 1",
            hint="encode the prompt with the guidance you sample with",
        )
    if request.steps < 1:
        raise ModelError(f"steps must be at least 1 (got {request.steps})")
    if task == "v2v" and not 0.0 < request.strength <= 1.0:
        raise ModelError(f"strength must be in (0, 1] (got {request.strength})")
    geo = families.geometry(model.spec, _pipe(model))
    families.check_geometry(model.spec.label, geo, request.num_frames, request.height, request.width)
    if request.reference is not None:
        if not model.spec.takes_reference:
            raise ModelError(
                f"the model '{model.name}' ({model.spec.label}) takes no reference image",
                hint="set the Reference Image node's 'use' to first_frame, or load a Wan VACE model",
            )
        _check_image(request.reference, "reference image", 3)
    if task == "i2v":
        _check_image(request.image, "image", 3)
    if task == "v2v":
        _check_image(request.video, "video", 4)


def _check_image(array: np.ndarray, name: str, ndim: int) -> None:
    shape = "[H, W, 3]" if ndim == 3 else "[T, H, W, 3]"
    if (
        not isinstance(array, np.ndarray)
        or array.ndim != ndim
        or array.shape[-1] != 3
        or array.dtype != np.uint8
    ):
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ModelError(f"the {name} must be a uint8 array {shape}; got {got}")
    if ndim == 4 and array.shape[0] < 1:
        raise ModelError("the guide video has no frames")


def _guide_frames(video: np.ndarray, num_frames: int) -> list[Image.Image]:
    """The guide clip resampled (nearest) to the requested length; the pipeline resizes each frame."""
    index = np.round(np.linspace(0, video.shape[0] - 1, num_frames)).astype(int)
    return [Image.fromarray(video[i]) for i in index]


def _expected_steps(model: LoadedModel, request: VideoRequest, task: str) -> int:
    if task == "v2v" and model.spec.v2v_skips_steps:
        return min(int(request.steps * request.strength), request.steps)
    return request.steps


def _previewer(model: LoadedModel, geo: families.Geometry) -> preview.ClipPreviewer | preview.DecoderPreviewer:
    if model._previewer is None:
        pipe = _pipe(model)
        device = model.execution_device
        channels = _latent_channels(pipe)
        # A shipped preview decoder draws the clip at its pixel size; without one, the colour map below.
        decoder = preview.shipped_decoder(model.source, channels, device, geo.temporal) if model.source else None
        if decoder is not None:
            model._previewer = decoder
            return decoder
        projection = preview.shipped_projection(model.source, channels) if model.source else None
        if projection is None:
            projection = preview.LatentProjection.load(preview.cache_path(model.weights_id), channels)
        if projection is None:

            def decode_kwargs(z: torch.Tensor) -> dict:
                return model.spec.vae_decode_kwargs(pipe, z, 0)

            projection = preview.fit_projection(
                pipe.vae, _latent_channels(pipe), geo.temporal, geo.spatial, device, decode_kwargs
            )
            projection.save(preview.cache_path(model.weights_id))
        model._previewer = preview.ClipPreviewer(projection, device, geo.temporal, geo.spatial)
    return model._previewer


def _renderer(
    model: LoadedModel, geo: families.Geometry, dims: tuple[int, int, int], num_frames: int
) -> preview.ClipRenderer | preview.DecoderRenderer:
    pipe = _pipe(model)
    channels = _latent_channels(pipe)
    # Every family maps pipeline latents to VAE latents per channel (x * a + b): read a and b off once.
    zeros = torch.zeros(1, channels, 1, 1, 1, device=model.execution_device)
    shift = model.spec.to_vae_space(pipe, zeros).flatten()
    scale = model.spec.to_vae_space(pipe, zeros + 1).flatten() - shift
    return _previewer(model, geo).for_clip(scale, shift, num_frames, dims[0])


def _latent_channels(pipe) -> int:
    cfg = pipe.vae.config
    return int(getattr(cfg, "z_dim", None) or cfg.latent_channels)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    # CUDA generators keep GPU runs reproducible; MPS generators are unreliable, so MPS draws on the CPU.
    return torch.Generator(device="cuda" if device.type == "cuda" else "cpu").manual_seed(int(seed))


@torch.no_grad()
def sample(
    model: LoadedModel,
    embeds: PromptEmbeds,
    request: VideoRequest,
    on_step: Callable[[StepUpdate], None] | None = None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> Latents:
    """Denoise a clip, reporting every step (with a whole-clip preview) and stopping within one step of a cancel."""
    task = _task_of(model, request)
    _check_request(model, embeds, request, task)
    setting = speed.parse(request.speed)
    if is_cancelled():
        raise Cancelled()
    spec = model.spec
    pipe = model.task_pipeline(task)
    geo = families.geometry(spec, pipe)
    dims = (
        geo.latent_frames(request.num_frames),
        request.height // geo.spatial,
        request.width // geo.spatial,
    )
    renderer = None
    if request.preview and on_step is not None and previews_watched():
        try:
            renderer = _renderer(model, geo, dims, request.num_frames)
        except Exception as exc:  # noqa: BLE001
            _raise_translated(exc, "preparing previews", model)
    total = _expected_steps(model, request, task)
    if total < 1:
        raise ModelError(
            f"strength {request.strength} with {request.steps} steps leaves no step to run",
            hint="raise the strength or the number of steps",
        )

    previous: list[torch.Tensor | None] = [None]
    # Image-to-video: the clip opens on the given picture. Mid-way the sampler's estimate of that first latent
    # frame is noise (its condition is put back only at the end: preview error 118 at step 1 and 36 at the
    # last, against 1.8 for the decoded clip), so the preview shows the picture itself there.
    first = request.image if task == "i2v" else None

    def on_step_end(step_pipe, index: int, _timestep, tensors: dict) -> dict:
        if on_step is not None:
            frames = None
            if renderer is not None:
                latents = tensors["latents"][:1]
                shown = denoised_estimate(step_pipe.scheduler, latents, previous[0])
                if _is_flow_euler(step_pipe.scheduler):  # only its estimate reads the step before
                    previous[0] = latents.detach().clone()
                frames = renderer(families.canonical_latents(spec, shown, dims)[0])
                if first is not None:
                    frames = _with_first_frame(frames, first)
            on_step(StepUpdate(step=index + 1, total=total, preview=frames))
        # Raising here (not pipe._interrupt) stops at once: no remaining steps, no decode.
        if is_cancelled():
            raise Cancelled()
        return {}

    kwargs = dict(embeds.tensors)
    if request.guidance <= 1.0:
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("negative")}
    kwargs.update(
        height=request.height,
        width=request.width,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        generator=_generator(model.execution_device, request.seed),
        output_type="latent",
        callback_on_step_end=on_step_end,
        callback_on_step_end_tensor_inputs=["latents"],
    )
    if request.noise is not None:
        kwargs["latents"] = request.noise.to(device=model.execution_device, dtype=pipe.transformer.dtype)
    defaults = model.defaults if request.fps is None else {**model.defaults, "fps": request.fps}
    kwargs.update(spec.sample_arguments(defaults))
    extra, scheduler = spec.schedule(pipe, task, dims, request.steps)
    kwargs.update(extra)
    if task == "v2v":
        # The guide is resampled to the request's length; a family whose pipeline also takes num_frames
        # for it says so in its v2v_arguments.
        kwargs.update(
            spec.v2v_arguments(pipe, _guide_frames(request.video, request.num_frames), request.strength)
        )
    else:
        kwargs["num_frames"] = request.num_frames
    if task == "i2v":
        kwargs["image"] = Image.fromarray(request.image)
    if request.reference is not None:
        kwargs["reference_images"] = [Image.fromarray(request.reference)]
        kwargs["num_frames"] = request.num_frames
    own_scheduler = pipe.scheduler
    try:
        if scheduler is not None:  # for this call alone: the pipeline is shared by every render of the model
            pipe.scheduler = scheduler
        # The family's own schedule goes in as timesteps, which diffusers warns about on every call (it cannot
        # know that the scheduler given with them shifts nothing): quiet for that call.
        with speed.step_cache(pipe, setting, f"the model '{model.name}'"), \
                (quiet() if scheduler is not None else nullcontext()):
            output = pipe(**kwargs, return_dict=False)[0]
    except Exception as exc:  # noqa: BLE001
        _reset_hooks(pipe)
        _raise_translated(exc, "sampling", model)
    finally:
        pipe.scheduler = own_scheduler
    tensor = families.canonical_latents(spec, output, dims).detach().to("cpu").contiguous()
    return Latents(
        tensor=tensor,
        family=spec.name,
        weights_id=model.weights_id,
        num_frames=request.num_frames,
        height=request.height,
        width=request.width,
        seed=request.seed,
        task=task,
    )


def _with_first_frame(frames: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The preview with its first frame replaced by ``image`` at the preview's size."""
    height, width = frames.shape[1:3]
    if image.shape[:2] != (height, width):
        image = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
    frames = frames.copy()
    frames[0] = image[..., :3]
    return frames


def denoised_estimate(scheduler, latents: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
    """What the clip will look like, as far as this step knows: the sampler's own clean-clip prediction.

    Mid-way the latents are still mostly noise (at half the steps of a shifted flow schedule, three quarters),
    and a preview of them shows noise; the prediction shows the clip taking shape. Multistep samplers that
    predict x0 (UniPC, DPM-Solver: Wan's) keep it in ``model_outputs``; for flow-matching Euler (LTX) it is
    read off the step just taken: x0 = x_next - sigma_next * (x_next - x_prev) / (sigma_next - sigma_prev).
    Anything else (CogVideoX's v-prediction DDIM) shows the latents as they are."""
    outputs = getattr(scheduler, "model_outputs", None)
    if outputs and getattr(scheduler.config, "predict_x0", False):
        last = outputs[-1]
        if isinstance(last, torch.Tensor) and last.shape[1:] == latents.shape[1:]:
            return last[:1]
        return latents
    sigmas = getattr(scheduler, "sigmas", None)
    index = getattr(scheduler, "step_index", None)
    if _is_flow_euler(scheduler) and previous is not None and sigmas is not None and index is not None and 0 < index < len(sigmas):
        sigma_next, sigma_prev = float(sigmas[index]), float(sigmas[index - 1])
        if abs(sigma_next - sigma_prev) > 1e-6 and previous.shape == latents.shape:
            velocity = (latents - previous.to(latents)) / (sigma_next - sigma_prev)
            return latents - sigma_next * velocity
    return latents


def _is_flow_euler(scheduler) -> bool:
    return type(scheduler).__name__.startswith("FlowMatch")


def _reset_hooks(pipe) -> None:
    """After an interrupted call, put offloaded models back where offloading expects them."""
    try:
        pipe.maybe_free_model_hooks()
    except Exception:  # noqa: BLE001 - best effort; the original error is what matters
        pass


def _to_uint8_frames(video: torch.Tensor, num_frames: int) -> np.ndarray:
    frames = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    frames = frames.permute(1, 2, 3, 0).cpu().numpy()  # [T, H, W, 3]
    if frames.shape[0] > num_frames:
        frames = frames[:num_frames]
    elif frames.shape[0] < num_frames:
        pad = np.repeat(frames[-1:], num_frames - frames.shape[0], axis=0)
        frames = np.concatenate([frames, pad], axis=0)
    return np.ascontiguousarray(frames)


@torch.no_grad()
def decode(model: LoadedModel, latents: Latents) -> np.ndarray:
    """Decode to uint8 [T, H, W, 3]; the Latents stay untouched, so a failed decode can be retried."""
    if latents.weights_id != model.weights_id:
        raise ModelError(
            "these latents come from another model; decode them with the model that sampled them"
        )
    pipe = _pipe(model)
    vae = pipe.vae
    try:
        z = latents.tensor.to(device=model.execution_device, dtype=torch.float32).clone()
        z = model.spec.to_vae_space(pipe, z).to(vae.dtype)
        extra = model.spec.vae_decode_kwargs(pipe, z, latents.seed)
        video = vae.decode(z, **extra, return_dict=False)[0]
        frames = _to_uint8_frames(video, latents.num_frames)
    except Exception as exc:  # noqa: BLE001
        _raise_translated(exc, "decoding", model)
    finally:
        _reset_hooks(pipe)
    return frames


def decode_schedule(model: LoadedModel, latents: Latents, weights: np.ndarray) -> np.ndarray:
    """Decode a one-pass prompt schedule: where a prompt change drew another scene, each scene's stretch apart,
    cross-dissolved by the schedule's per-frame ``weights`` [K, T] (``studio.directing.prompts.
    plan_section_decodes`` says why and how). One scene, or latents not laid out frame by frame, decode as one
    clip, as ``decode`` does."""
    from studio.directing.prompts import plan_section_decodes

    tensor = latents.tensor
    geo = families.geometry(model.spec, _pipe(model))
    if tensor.ndim != 5 or tensor.shape[2] != geo.latent_frames(latents.num_frames):
        return decode(model, latents)
    # how far each latent frame moved from the one before: a prompt change to another scene jumps
    steps = (tensor[:, :, 1:] - tensor[:, :, :-1]).float().flatten(3).norm(dim=(1, 3))[0].cpu().numpy()
    plans = plan_section_decodes(weights, geo.temporal, int(tensor.shape[2]), steps)
    if len(plans) < 2:
        return decode(model, latents)
    mixed: np.ndarray | None = None
    for plan in plans:
        part = replace(latents, tensor=tensor[:, :, list(plan.latents)], num_frames=plan.num_frames)
        frames = decode(model, part)
        if mixed is None:
            mixed = np.zeros((latents.num_frames, *frames.shape[1:]), np.float32)
        seen = np.flatnonzero(plan.weights > 0)
        mixed[seen] += plan.weights[seen, None, None, None].astype(np.float32) * frames[seen - plan.first_frame]
    return np.ascontiguousarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))
