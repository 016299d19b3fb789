"""Sequence nodes: a shot list (prompts, lengths, seeds, transitions, characters) and rendering it shot by shot."""

from __future__ import annotations

import logging

from studio.graph import Column, ParamSpec, PortSpec, PortType, Roles, node, register_port_type

log = logging.getLogger(__name__)

register_port_type(PortType("SHOTS", "a shot list: shots in order (prompt, length, seed, transition, character) "
                            "and the characters' pictures", "#d9a441", "studio.directing.shots.ShotPlan"))

# Kept in step with studio.directing.shots (not imported here: node modules load at editor start-up).
TRANSITIONS = ("cut", "continue")
CHARACTER_SLOTS = ("a", "b")
# All the shots' text together: like a prompt schedule's, it reaches the clip's C2PA manifest (sections).
SHOTS_MAX_CHARS = 40_000
SHOT_COLUMNS = (
    Column("name", "text", help="what editors call the shot; shown in progress and the log"),
    Column("prompt", "text", help="what the shot shows"),
    Column("seconds", "float", help="the shot's length; longer than the model's window renders in segments"),
    Column("seed", "int", help="the shot's seed; empty uses the Shot List's seed"),
    Column("transition", "enum", choices=TRANSITIONS,
           help="cut: starts afresh (empty means cut); continue: starts on the previous shot's last frame"),
    Column("character", "enum", choices=CHARACTER_SLOTS,
           help="a character slot: the shot starts from the picture on 'character_a' or 'character_b'"),
)
EXAMPLE_SHOTS = [
    {"name": "open", "prompt": "a red circle moves right on a black background", "seconds": 1.0, "seed": 1},
    {"name": "turn", "prompt": "a red circle moves down on a black background", "seconds": 1.0, "seed": 2,
     "transition": "continue"},
]


@node(
    "studio.ShotList",
    title="Shot List",
    category="Directing",
    roles=Roles(shot_list="shots"),
    inputs=[
        PortSpec("character_a", "IMAGE", "character a: shots naming 'a' start from this picture (or keep it as "
                 "their subject, on models that take a reference)", optional=True),
        PortSpec("character_b", "IMAGE", "character b, likewise", optional=True),
    ],
    outputs=[PortSpec("shots", "SHOTS", "the shots in order, for Generate Sequence")],
    params=[
        ParamSpec("shots", "json", EXAMPLE_SHOTS, max_length=SHOTS_MAX_CHARS, columns=SHOT_COLUMNS,
                  help="One row per shot, in order: {name, prompt, seconds, seed, transition (cut or continue), "
                       "character (a or b)}. A cut starts afresh, from its character's picture when it names one; "
                       "a continue starts on the previous shot's last frame, so the two play as one take. "
                       "Editing a shot re-renders it and the shots that continue from it, nothing else."),
        ParamSpec("seed", "seed", 0, minimum=0, maximum=2**63 - 1,
                  help="The seed of every shot whose seed cell is empty."),
    ],
)
def shot_list(ctx, shots, seed: int, character_a=None, character_b=None):
    """An ordered list of shots with their prompts, lengths, seeds, transitions and characters."""
    from studio.directing.shots import parse_shots

    return parse_shots(shots, seed, {"a": character_a, "b": character_b})


@node(
    "studio.GenerateSequence",
    title="Generate Sequence",
    category="Generate",
    roles=Roles(draft=(("steps", "draft_steps"), ("guidance", "draft_guidance")), clip_rate="fps"),
    inputs=[
        PortSpec("model", "MODEL", "the video model"),
        PortSpec("shots", "SHOTS", "the shot list"),
    ],
    outputs=[PortSpec("video", "VIDEO", "the shots joined into one clip; each shot is a section on the timeline")],
    params=[
        ParamSpec("width", "int", 0, minimum=0, maximum=4096, soft_maximum=1280,
                  help="Frame width in pixels; 0 uses the model's recommended size."),
        ParamSpec("height", "int", 0, minimum=0, maximum=4096, soft_maximum=1280,
                  help="Frame height in pixels; 0 uses the model's recommended size."),
        ParamSpec("fps", "float", 16.0, minimum=1, maximum=120,
                  help="Frames per second: a shot of s seconds has round(s x fps) frames."),
        ParamSpec("steps", "int", 20, minimum=1, maximum=500, soft_maximum=100,
                  help="Denoising steps of every segment of every shot."),
        ParamSpec("guidance", "float", 5.0, minimum=0, maximum=30, soft_maximum=15,
                  help="How strongly each shot's prompt steers (classifier-free guidance); 1 turns it off."),
        ParamSpec("negative_prompt", "text", "", help="What to keep out of every shot."),
        ParamSpec("preview", "bool", True, help="Stream a preview of the segment being rendered at every step."),
        ParamSpec("draft_steps", "int", 6, minimum=1, maximum=100,
                  help="Steps of a draft render: every shot at a fraction of the time, same seeds."),
        ParamSpec("draft_guidance", "float", 3.0, minimum=0, maximum=30, soft_maximum=15,
                  help="Guidance of a draft render (when lower than 'guidance'): few steps overshoot at strong "
                       "guidance."),
    ],
)
def generate_sequence(ctx, model, shots, width: int, height: int, fps: float, steps: int, guidance: float,
                      negative_prompt: str = "", preview: bool = True, draft_steps: int = 6,
                      draft_guidance: float = 3.0):
    """Render a shot list shot by shot (long shots in chained segments), re-rendering only shots that changed."""
    import numpy as np

    from studio import runtime
    from studio.directing.shots import plan_segments
    from studio.engine.keys import digest
    from studio.runtime.recipes.sequence import render_shot
    from studio.runtime.recipes.steering import frame_step
    from studio.values import Video

    defaults = model.defaults
    width = width or defaults["width"]
    height = height or defaults["height"]
    negative = negative_prompt.strip()
    window, step = int(defaults["num_frames"]), frame_step(model)
    model_key = ctx.input_key("model")
    plans = [plan_segments(shot.num_frames(fps), window, step, shot.continues) for shot in shots.shots]
    total = steps * sum(len(segments) for segments in plans)
    count = len(shots.shots)
    pieces: list[np.ndarray] = []
    previous_key, ran, done = None, [], 0
    for index, (shot, segments) in enumerate(zip(shots.shots, plans, strict=True)):
        ctx.check_cancelled()
        character = shots.character(shot.character)
        # What this shot's frames depend on, and nothing else: another shot's edit must not reach it, except
        # through the shot it continues from (whose key is part of this one's).
        key = digest(["shot", model_key, shot.prompt, shot.num_frames(fps), shot.seed, shot.transition,
                      character.digest if character is not None else None, negative, width, height, fps,
                      steps, guidance, window, previous_key if shot.continues else None])
        head = f"shot {index + 1}/{count} '{shot.name}'"

        def render(shot=shot, segments=segments, character=character, head=head, offset=done, index=index):
            why = (f"continues shot {index}, which was rendered again" if shot.continues and ran
                   and ran[-1] == index else "new, or its row, seed, character or the settings changed")
            log.info("%s: rendering (%s)", head, why)
            ran.append(index + 1)
            ctx.progress(offset, total, message=f"{head}: rendering ({why})")
            embeds = ctx.memo("encode_prompt", [model_key, shot.prompt, negative, guidance > 1.0],
                              lambda: runtime.encode_prompt(model, shot.prompt, negative, guidance))
            start, request = _start(model, shot, character, pieces, width, height)
            request.steps, request.guidance, request.preview = steps, guidance, preview

            def on_step(update, before) -> None:
                ctx.progress(offset + before + update.step, total, update.preview if preview else None,
                             message=f"{head}: step {update.step}/{update.total}")

            return render_shot(model, shot, embeds, request, segments, start, on_step=on_step,
                               is_cancelled=ctx.is_cancelled)

        frames = ctx.memo("shot", [key], render)
        if not ran or ran[-1] != index + 1:
            ctx.progress(done + steps * len(segments), total, message=f"{head}: unchanged, from the memo")
        done += steps * len(segments)
        pieces.append(frames)
        previous_key = key
    ctx.check_cancelled()
    kept = count - len(ran)
    summary = (f"rendered {len(ran)} of {count} shots ({', '.join(map(str, ran)) or 'none'}); "
               f"{kept} unchanged from the memo")
    log.info(summary)
    ctx.progress(total, total, message=summary)
    frames = np.concatenate(pieces, axis=0)
    return Video(frames, fps, _generation(model, shots, frames, fps, width, height, steps, guidance, negative))


def _start(model, shot, character, pieces, width: int, height: int):
    """The first frame a shot starts from, and its request (the character as a reference where it is one)."""
    from studio import runtime
    from studio.media.image import fit_image

    request = runtime.VideoRequest(num_frames=1, height=height, width=width)
    picture = None
    if character is not None:
        picture = fit_image(character.picture.pixels, width, height, character.picture.fit)
        if character.picture.role == "reference":
            request.reference = picture  # the subject to keep anywhere in the shot (Wan VACE)
            picture = None
    if shot.continues:
        return pieces[-1][-1], request
    return picture, request


def _generation(model, shots, frames, fps: float, width: int, height: int, steps: int, guidance: float,
                negative: str):
    """What made the sequence: each shot a section (its start and prompt), for the timeline and the manifest."""
    from studio.values import Generation, ShotRecord

    sections = tuple((start / fps, shot.prompt) for start, shot in zip(shots.starts(fps), shots.shots, strict=True))
    first = shots.shots[0]
    reference = next((c.picture.source for c in shots.characters if c.picture.source), None)
    return Generation(
        model=model.name, model_hash=model.weights_id, prompt=first.prompt, negative=negative,
        sections=sections if len(sections) > 1 else (), seed=first.seed, steps=steps, guidance=guidance,
        width=width, height=height, num_frames=int(frames.shape[0]), fps=fps, mode="sequence",
        reference_image=reference,
        reference_use=next((c.picture.role for c in shots.characters if c.picture.source), None),
        shots=tuple(ShotRecord(shot.name, start / fps, shot.prompt, shot.seed,
                               shot.transition, shot.character or None)
                    for start, shot in zip(shots.starts(fps), shots.shots, strict=True)),
        character_images=tuple(c.picture.source for c in shots.characters if c.picture.source),
    )
