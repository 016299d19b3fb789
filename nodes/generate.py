"""Generation nodes: sample a clip with a video model, steered by image, guide clip or camera path."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, Roles, node
from studio.values import CameraGuide, Generation, Picture, Prompt, PromptSchedule, Video


@node(
    "studio.GenerateVideo",
    title="Generate Video",
    category="Generate",
    # A draft runs fewer steps and, with them, gentler guidance: at 6 steps guidance 5 overshoots (stray blobs,
    # another position and motion), guidance 3 lands on the final's object, colour and motion (tests/directing).
    roles=Roles(draft=(("steps", "draft_steps"), ("guidance", "draft_guidance")), clip_rate="fps"),
    # 2: step_cache + cache_threshold became one 'speed' setting (with the presets balanced and fast)
    version=2,
    upgrade=lambda params, version: _speed_from_step_cache(params) if version < 2 else params,
    inputs=[
        PortSpec("model", "MODEL", "the video model"),
        PortSpec("prompt", "PROMPT", "what to show"),
        PortSpec("image", "IMAGE", "first frame (image-to-video), or a subject reference (Wan VACE) when the "
                 "Reference Image node's 'use' says so", optional=True),
        PortSpec("guide", "VIDEO", "a clip to follow (video-to-video at the given strength)", optional=True),
        PortSpec("camera_guide", "CAMERA_GUIDE", "a camera move to follow (from a Camera Guide): remade at this "
                 "node's size, length and fps", optional=True),
    ],
    outputs=[PortSpec("video", "VIDEO", "the generated clip")],
    params=[
        ParamSpec("num_frames", "int", 0, minimum=0, maximum=1025, soft_maximum=161,
                  help="Length in frames; 0 uses the model's recommended length, or the soundtrack's length when "
                       "a Camera Guide with audio is connected. Wan models take 4k+1 frames."),
        ParamSpec("width", "int", 0, minimum=0, maximum=4096, soft_maximum=1280,
                  help="Frame width in pixels; 0 uses the model's recommended size."),
        ParamSpec("height", "int", 0, minimum=0, maximum=4096, soft_maximum=1280,
                  help="Frame height in pixels; 0 uses the model's recommended size."),
        ParamSpec("fps", "float", 16.0, minimum=1, maximum=120, help="Frames per second of the clip."),
        ParamSpec("steps", "int", 20, minimum=1, maximum=500, soft_maximum=100,
                  help="Denoising steps: more is finer and slower. Drafts look fine at 6-10."),
        ParamSpec("guidance", "float", 5.0, minimum=0, maximum=30, soft_maximum=15,
                  help="How strongly the prompt steers (classifier-free guidance); 1 turns it off."),
        ParamSpec("seed", "seed", 0, minimum=0, maximum=2**63 - 1,
                  help="The same seed and settings give the same clip."),
        ParamSpec("strength", "float", 0.7, minimum=0, maximum=1,
                  help="With a guide clip (or a Camera Guide steering by 'guide'): how far to move away from it "
                       "(0 keeps it, 1 ignores it)."),
        ParamSpec("preview", "bool", True, help="Stream a preview of the whole clip at every step."),
        ParamSpec("draft_steps", "int", 6, minimum=1, maximum=100,
                  help="Steps of a draft render (Render Draft, Ctrl+Alt+Enter; `studio render --draft`): the "
                       "same seed and settings at a fraction of the time, to judge a change quickly."),
        ParamSpec("draft_guidance", "float", 3.0, minimum=0, maximum=30, soft_maximum=15,
                  help="Guidance of a draft render (when lower than 'guidance'): with few steps a strong guidance "
                       "overshoots, and the draft would show another object or motion than the final."),
        ParamSpec("speed", "string", "off", max_length=40,
                  choices=("off", "balanced", "fast", "first_block@0.1", "taylorseer@3", "pab@2"),
                  help="Skip work on steps where the model barely changes its answer: faster, slightly different "
                       "clip. 'off' renders exactly; 'balanced' uses the fastest setting `studio bench-speed` "
                       "measured on this model that keeps 25 dB PSNR (off until measured); 'fast' the fastest "
                       "measured, whatever it costs; or a method and its knob: "
                       "first_block@0.08 (higher threshold: faster), taylorseer@3 or pab@2 (higher interval: "
                       "faster). A draft of an 'off' render uses 'balanced'."),
    ],
)
def generate_video(ctx, model, prompt: Prompt, image: Picture | None, guide: Video | None,
                   camera_guide: CameraGuide | None, num_frames: int,
                   width: int, height: int, fps: float, steps: int, guidance: float, seed: int,
                   strength: float, preview: bool, draft_steps: int = 6, draft_guidance: float = 3.0,
                   speed: str = "off") -> Video:
    """Text-, image- or video-to-video with the connected model, optionally along a camera path."""
    from studio import runtime
    from studio.media.image import fit_image
    from studio.runtime.vocabulary import warn_unknown_words

    warn_unknown_words(model, prompt, ctx.warn)  # a small-vocabulary model drops unknown words silently
    defaults = model.defaults
    width = width or defaults["width"]
    height = height or defaults["height"]
    if camera_guide is not None:
        if guide is not None:
            from studio.errors import NodeError

            raise NodeError("both a guide clip and a Camera Guide are connected; a clip follows one of them",
                            port="camera_guide", hint="disconnect 'guide' or 'camera_guide'")
        # The move is remade below at this clip's settings.
        if not num_frames and camera_guide.seconds:
            from studio.directing.camera import frames_for_seconds
            from studio.runtime.recipes.steering import frame_step

            num_frames = frames_for_seconds(camera_guide.seconds, fps, frame_step(model))
    picture = None if image is None else fit_image(image.pixels, width, height, image.fit)
    as_reference = image is not None and image.role == "reference"
    request = runtime.VideoRequest(
        num_frames=num_frames or defaults["num_frames"], height=height, width=width, steps=steps,
        guidance=guidance, seed=seed, strength=strength, preview=preview,
        image=None if as_reference else picture,
        reference=picture if as_reference else None,
        video=None if guide is None else _fit_clip(guide, width, height, fit_image),
        fps=fps,
    )
    resolved = _resolve_speed(ctx, model, speed)
    request.speed, request.speed_reason = resolved.setting, resolved.why
    model_key = ctx.input_key("model")
    # The prompt encode does not depend on the seed, steps or size: changing those must not repeat it.
    embeds = ctx.memo("encode_prompt", [model_key, prompt.text, prompt.negative, guidance > 1.0],
                      lambda: runtime.encode_prompt(model, prompt.text, prompt.negative, guidance))

    def on_step(update) -> None:
        ctx.progress(update.step, update.total, update.preview)

    mode = None
    if camera_guide is not None:
        mode = camera_guide.steer
        embeds = _steer_with_camera(ctx, model, embeds, request, camera_guide, fps, steps, guidance, seed)
    if len(getattr(prompt, "sections", ())) > 1:
        frames = _render_schedule(ctx, model, prompt, request, embeds, fps, guidance, mode)
        return Video(frames, fps, _generation(model, prompt, request, image, camera_guide, mode, frames, fps))

    # Latents are memoized apart from the decode, so a failed decode (out of memory) retries
    # without sampling again.
    latents = ctx.memo(
        "sample",
        [model_key, ctx.input_key("prompt"), ctx.input_key("image"), ctx.input_key("guide"),
         ctx.input_key("camera_guide"),
         request.num_frames, width, height, steps, guidance, seed,
         strength if request.video is not None else None, mode, fps if mode or _rate_matters(model) else None,
         *_speed_key(request)],
        lambda: runtime.sample(model, embeds, request, on_step=on_step, is_cancelled=ctx.is_cancelled),
    )
    ctx.check_cancelled()
    frames = runtime.decode(model, latents)
    return Video(frames, fps, _generation(model, prompt, request, image, camera_guide, mode, frames, fps))


def _speed_from_step_cache(params: dict) -> dict:
    """Version 1 to 2: step_cache 'first_block' with cache_threshold t (0: the default then, 0.06) becomes
    speed 'first_block@t'; 'off' stays off."""
    params = dict(params)
    method = params.pop("step_cache", "off")
    threshold = params.pop("cache_threshold", 0.0)
    if method == "first_block":
        value = threshold if isinstance(threshold, int | float) and not isinstance(threshold, bool) else 0
        params["speed"] = f"first_block@{value if 0 < value <= 1 else 0.06:g}"
    elif "speed" not in params:
        params["speed"] = "off"
    return params


def _resolve_speed(ctx, model, speed: str):
    """The concrete setting this render uses, said in the run's log. A draft of an exact ('off') render runs
    'balanced': faster where bench-speed found a setting that keeps 25 dB, and never 'fast', whose unguarded
    settings made the embedded model's draft show another clip than the final (14 dB with taylorseer@3)."""
    from studio.errors import NodeError, StudioError
    from studio.runtime import fidelity

    upgraded = ctx.outputs.draft and speed.strip().lower() == "off"
    asked = "balanced" if upgraded else speed
    try:
        resolved = fidelity.resolve(asked, model)
    except StudioError as exc:
        raise NodeError(exc.message, port="speed", hint=exc.hint, path=exc.path) from exc
    if upgraded:
        if resolved.setting != "off":
            ctx.warn(f"draft: speed 'balanced' instead of 'off': {resolved.setting} ({resolved.why})")
    elif resolved.setting != "off" or speed.strip().lower() != "off":
        ctx.warn(f"speed '{speed}': {resolved.setting} ({resolved.why})")
    return resolved


def _rate_matters(model) -> bool:
    """Whether the model is told the frame rate (LTX places its tokens in seconds): then fps changes the clip."""
    args = model.spec.sample_arguments
    return args({**model.defaults, "fps": 1.0}) != args({**model.defaults, "fps": 2.0})


def _speed_key(request) -> list:
    """A sped-up render is a different clip: its concrete setting is part of the key (nothing when off)."""
    return [] if request.speed == "off" else [request.speed]


def _generation(model, prompt: Prompt, request, image: Picture | None, camera_guide, mode: str | None, frames,
                fps: float) -> Generation:
    """What made the clip, for provenance, the OTIO export and the timeline."""
    reference = image.source if image is not None else None
    if image is None and camera_guide is not None and camera_guide.source:
        reference = camera_guide.source
    steered = camera_guide is not None and mode != "none"
    # one section is a plain prompt; only a real schedule marks the timeline
    scheduled = isinstance(prompt, PromptSchedule) and len(prompt.sections) > 1
    return Generation(
        model=model.name, model_hash=model.weights_id, adapters=tuple(getattr(model, "adapters", ())),
        prompt=prompt.text, negative=prompt.negative,
        sections=tuple((float(start), str(text)) for start, text in prompt.sections) if scheduled else (),
        blend=prompt.blend if scheduled else 0.0,
        seed=request.seed, steps=request.steps, guidance=request.guidance, width=request.width,
        height=request.height, num_frames=int(frames.shape[0]), fps=fps,
        mode="v2v" if request.video is not None else "i2v" if request.image is not None else "t2v",
        reference_use=image.role if image is not None else None, reference_image=reference,
        camera=camera_guide.label if steered else None, camera_mode=mode if steered else None,
        speed=_speed_text(request),
    )


def _speed_text(request) -> str | None:
    """A sped-up render says so, and why, in its record (and so in its credentials); None when rendered in full."""
    if request.speed == "off":
        return None
    return f"{request.speed} ({request.speed_reason})" if request.speed_reason else request.speed


def _render_schedule(ctx, model, prompt, request, embeds, fps: float, guidance: float, mode: str | None):
    """A prompt schedule: in one pass with timed cross-attention on Wan models, else as chained segments."""
    from studio import runtime
    from studio.directing.prompts import latent_weights, section_weights
    from studio.runtime.recipes import timed_text
    from studio.runtime.recipes.chain import render_schedule

    model_key = ctx.input_key("model")

    def encode(text: str):
        return ctx.memo("encode_prompt", [model_key, text, prompt.negative, guidance > 1.0],
                        lambda: runtime.encode_prompt(model, text, prompt.negative, guidance))

    noise = request.noise if mode == "noise" else None
    key = [model_key, ctx.input_key("prompt"), ctx.input_key("image"), ctx.input_key("guide"),
           ctx.input_key("camera_guide"), request.num_frames,
           request.width, request.height, request.steps, guidance, request.seed, request.strength, mode, fps,
           *_speed_key(request)]

    def on_step(update) -> None:
        ctx.progress(update.step, update.total, update.preview)

    if timed_text.supports(model):
        from studio.runtime import families
        from studio.runtime.recipes.steering import with_starting_noise

        geo = families.geometry(model.spec, model.pipe)
        frame_weights = section_weights(prompt.sections, prompt.blend, request.num_frames, fps)
        weights = latent_weights(frame_weights, geo.temporal, geo.latent_frames(request.num_frames))
        # past the length the model was trained on, each frame sees only its neighbours: the new prompt forms
        window = timed_text.window_radius(model, geo.latent_frames(request.num_frames))
        combined, text_len = timed_text.side_by_side([encode(text) for _time, text in prompt.sections])
        if noise is not None:
            combined = with_starting_noise(combined, request, noise)

        def sample():
            with timed_text.timed_text(model, weights, text_len, window=window):
                return runtime.sample(model, combined, request, on_step=on_step, is_cancelled=ctx.is_cancelled)

        latents = ctx.memo("sample_timed_text", key, sample)
        ctx.check_cancelled()
        # where a prompt change drew another scene, each scene decoded apart and cross-dissolved: decoded as
        # one clip, the VAE morphs the two into blobs over the blend (the prompt-schedule example's frames 33-35)
        from studio.runtime.sampling import decode_schedule

        return decode_schedule(model, latents, frame_weights)
    return ctx.memo("schedule", key, lambda: render_schedule(
        model, prompt, request, fps, encode, noise=noise,
        on_progress=lambda step, total, preview: ctx.progress(step, total, preview),
        is_cancelled=ctx.is_cancelled))


def _steer_with_camera(ctx, model, embeds, request, camera_guide, fps: float, steps: int, guidance: float,
                       seed: int):
    """Turn a camera move into a guide clip (v2v) or into moving starting noise; returns the embeds to use."""
    from studio.directing.warp import guide_clip
    from studio.errors import NodeError
    from studio.media.image import fit_image
    from studio.runtime.recipes import steering

    mode = camera_guide.steer
    track = camera_guide.camera.track(request.num_frames, fps)
    if camera_guide.picture is not None:
        # The Camera Guide's picture is what the camera looks at; in noise mode it is the first frame.
        request.image = fit_image(camera_guide.picture, request.width, request.height, camera_guide.fit)
    model_key = ctx.input_key("model")
    if mode == "none":
        return embeds
    if mode == "guide" and "v2v" not in model.capabilities:
        raise NodeError(f"the model '{model.name}' cannot follow a guide clip (no video-to-video)",
                        port="camera_guide",
                        hint="set the Camera Guide's 'steer' to 'noise'")
    if mode == "noise":
        if request.image is not None and "i2v" not in model.capabilities:
            raise NodeError(f"steering by noise keeps the picture as the first frame, but the model '{model.name}' "
                            "cannot do image-to-video", port="camera_guide",
                            hint="set the Camera Guide's 'steer' to 'guide', or remove its picture")
        noise = ctx.memo("camera_noise", [model_key, ctx.input_key("camera_guide"), request.num_frames, fps,
                                          request.width, request.height, seed],
                         lambda: steering.noise_for(model, track, request.num_frames, request.height,
                                                    request.width, seed))
        return steering.with_starting_noise(embeds, request, noise)
    start = request.image
    if start is None:
        start = ctx.memo(
            "camera_keyframe",
            [model_key, ctx.input_key("prompt"), request.width, request.height, steps, guidance, seed],
            lambda: steering.keyframe_from_text(
                model, embeds, request.width, request.height, steps, guidance, seed,
                on_step=lambda u: ctx.progress(u.step, u.total,
                                              message=steering.pass_message(1, 2, steering.GUIDE_PASS)),
                is_cancelled=ctx.is_cancelled))
    request.video = ctx.memo("camera_guide", [start, ctx.input_key("camera_guide"), request.num_frames, fps],
                             lambda: guide_clip(start, track, is_cancelled=ctx.is_cancelled))
    request.image = None  # the picture now lives in the guide clip's first frame
    return embeds


def _fit_clip(guide: Video, width: int, height: int, fit_image):
    import numpy as np

    if guide.size == (width, height):
        return guide.frames
    return np.stack([fit_image(frame, width, height, "crop") for frame in guide.frames])
