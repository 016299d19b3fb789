"""Generation nodes: sample a clip with a video model, streaming every denoising step."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, node
from studio.values import Picture, Prompt, Video


@node(
    "studio.GenerateVideo",
    title="Generate Video",
    category="Generate",
    inputs=[
        PortSpec("model", "MODEL", "the video model"),
        PortSpec("prompt", "PROMPT", "what to show"),
        PortSpec("image", "IMAGE", "first frame (image-to-video)", optional=True),
        PortSpec("guide", "VIDEO", "a clip to follow (video-to-video at the given strength)", optional=True),
    ],
    outputs=[PortSpec("video", "VIDEO", "the generated clip")],
    params=[
        ParamSpec("num_frames", "int", 0, minimum=0, maximum=1025, soft_maximum=161,
                  help="Length in frames; 0 uses the model's recommended length. Wan models take 4k+1 frames."),
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
                  help="With a guide clip: how far to move away from it (0 keeps it, 1 ignores it)."),
        ParamSpec("preview", "bool", True, help="Stream a preview of the whole clip at every step."),
    ],
)
def generate_video(ctx, model, prompt: Prompt, image: Picture | None, guide: Video | None, num_frames: int,
                   width: int, height: int, fps: float, steps: int, guidance: float, seed: int,
                   strength: float, preview: bool) -> Video:
    """Text-, image- or video-to-video with the connected model."""
    from studio import runtime
    from studio.media.image import fit_image

    defaults = model.defaults
    width = width or defaults["width"]
    height = height or defaults["height"]
    request = runtime.VideoRequest(
        num_frames=num_frames or defaults["num_frames"], height=height, width=width, steps=steps,
        guidance=guidance, seed=seed, strength=strength, preview=preview,
        image=None if image is None else fit_image(image.pixels, width, height, image.fit),
        video=None if guide is None else _fit_clip(guide, width, height, fit_image),
    )
    model_key = ctx.input_key("model")
    # The prompt encode does not depend on the seed, steps or size: changing those must not repeat it.
    embeds = ctx.memo("encode_prompt", [model_key, prompt.text, prompt.negative, guidance > 1.0],
                      lambda: runtime.encode_prompt(model, prompt.text, prompt.negative, guidance))

    def on_step(update) -> None:
        ctx.progress(update.step, update.total, update.preview)

    # Latents are memoized apart from the decode, so a failed decode (out of memory) retries
    # without sampling again.
    latents = ctx.memo(
        "sample",
        [model_key, ctx.input_key("prompt"), ctx.input_key("image"), ctx.input_key("guide"),
         request.num_frames, width, height, steps, guidance, seed, strength if guide is not None else None],
        lambda: runtime.sample(model, embeds, request, on_step=on_step, is_cancelled=ctx.is_cancelled),
    )
    ctx.check_cancelled()
    frames = runtime.decode(model, latents)
    info = {
        "model": model.name, "model_id": model.weights_id, "prompt": prompt.text,
        "negative_prompt": prompt.negative, "seed": seed, "steps": steps, "guidance": guidance,
        "size": f"{width}x{height}", "num_frames": int(frames.shape[0]), "fps": fps,
        "mode": "v2v" if guide is not None else "i2v" if image is not None else "t2v",
        "reference_image": image.source if image is not None else None,
    }
    return Video(frames, fps, info)


def _fit_clip(guide: Video, width: int, height: int, fit_image):
    import numpy as np

    if guide.size == (width, height):
        return guide.frames
    return np.stack([fit_image(frame, width, height, "crop") for frame in guide.frames])
