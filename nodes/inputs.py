"""Input nodes: text prompts (and prompt schedules) and reference images."""

from __future__ import annotations

from studio.graph import Column, ParamSpec, PortSpec, node
from studio.values import Picture, Prompt

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp)"
SCHEDULE_MAX_CHARS = 40_000  # e.g. 80 prompt changes of 500 characters each


@node(
    "studio.Text",
    title="Text",
    category="Inputs",
    inputs=[PortSpec("cue", "SIGNAL", "schedule entries with a 'cue' take over where this signal rises past 0.5 "
                     "(a drop in the music)", optional=True)],
    outputs=[PortSpec("prompt", "PROMPT", "the prompt and negative prompt")],
    params=[
        ParamSpec("prompt", "text", "", help="What the clip shows: subject, action, setting, style. A model with a "
                  "small vocabulary (the embedded one; `studio models` lists its words) ignores other words: the "
                  "Generate Video node it feeds warns, naming them and the nearest words it knows."),
        ParamSpec("negative_prompt", "text", "", help="What to keep out of the clip."),
        # max_length: all the schedule's prompts together (each is also capped like the prompt above); with
        # the prompts above it keeps the clip's C2PA manifest inside c2pa's 1 MiB whatever the script.
        ParamSpec("schedule", "json", [], max_length=SCHEDULE_MAX_CHARS, columns=(
            Column("time", "float", help="seconds from the clip's start when this prompt takes over"),
            Column("cue", "int", help="or: the n-th time the cue signal rises (leave time empty)"),
            Column("prompt", "text", help="what the clip shows from then on"),
        ),
                  help="Prompt changes over time: a list like [{\"time\": 2.0, \"prompt\": \"the sun sets\"}]. "
                       "The prompt above plays from 0 s; each entry takes over at its time (seconds), or with "
                       "{\"cue\": 1, ...} where the cue signal first rises. Wan models render it in one pass, each "
                       "frame reading its own blend of the prompts; other models render chained segments (each "
                       "starting on the previous one's last frame), which needs image-to-video. Empty: one prompt."),
        ParamSpec("blend", "float", 0.5, minimum=0, maximum=10,
                  help="Seconds a prompt change takes: the prompts' text conditioning is mixed over it."),
    ],
)
def text(ctx, prompt: str, negative_prompt: str, schedule=(), blend: float = 0.5, cue=None) -> Prompt:
    """A prompt and a negative prompt for a video model, optionally changing over time."""
    if not schedule:
        return Prompt(prompt.strip(), negative_prompt.strip())
    from studio.directing.prompts import cue_times, parse_schedule
    from studio.values import PromptSchedule, as_signal

    signal = as_signal(cue)
    cues = None if signal is None else cue_times(signal.values, signal.fps)
    sections = parse_schedule(schedule, prompt.strip(), cues)
    if len(sections) == 1:
        return Prompt(sections[0][1], negative_prompt.strip())
    return PromptSchedule(sections[0][1], negative_prompt.strip(), sections=sections, blend=float(blend))


@node(
    "studio.ReferenceImage",
    title="Reference Image",
    category="Inputs",
    outputs=[PortSpec("image", "IMAGE", "the picture, fitted to the model's size by the generator")],
    params=[
        ParamSpec("path", "path", "", help="A PNG, JPEG or WebP file of up to 40 megapixels (a larger JPEG is "
                  "read at a half, a quarter or an eighth of its size).", file_filter=IMAGE_FILTER),
        ParamSpec("fit", "enum", "crop", choices=("crop", "pad", "stretch"),
                  help="How the picture meets the model's frame size: crop the overflow, pad the gap, "
                       "or stretch to fill."),
        ParamSpec("use", "enum", "first_frame", choices=("first_frame", "reference"),
                  help="first_frame: the clip starts from this picture (image-to-video; every family). "
                       "reference: the subject or look to keep anywhere in the clip, for models that take "
                       "reference images (Wan VACE)."),
    ],
)
def reference_image(ctx, path: str, fit: str, use: str = "first_frame") -> Picture:
    """A picture used as the first frame (image-to-video) or as a reference."""
    from studio.media.image import load_image

    if not path:
        from studio.errors import NodeError

        raise NodeError("no image file chosen", hint="pick a PNG, JPEG or WebP file in the inspector")
    resolved = ctx.resolve_path(path)
    return Picture(load_image(resolved), fit=fit, source=str(resolved), role=use)
