"""Sequence nodes: a shot list (prompts, lengths, seeds, transitions, characters) and rendering it shot by shot."""

from __future__ import annotations

import logging

from studio.graph import Column, ParamSpec, PortSpec, PortType, Roles, node, register_port_type
from studio.graph.shotrows import CHARACTER_SLOTS, TRANSITIONS

log = logging.getLogger(__name__)

register_port_type(PortType("SHOTS", "a shot list: shots in order (prompt, length, seed, transition, character) "
                            "and the characters' pictures", "#d9a441", "studio.directing.shots.ShotPlan"))

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
        ParamSpec("only_shots", "string", "", max_length=2000,
                  help="Render only these shots (their row numbers: 3,7 or 2-4; empty: every shot). The others "
                       "come from the shot store (on disk, kept between sessions) when they rendered before "
                       "with the same settings, else are left out of the clip. `studio render --shots 3,7` "
                       "sets it."),
    ],
)
def generate_sequence(ctx, model, shots, width: int, height: int, fps: float, steps: int, guidance: float,
                      negative_prompt: str = "", preview: bool = True, draft_steps: int = 6,
                      draft_guidance: float = 3.0, only_shots: str = ""):
    """Render a shot list shot by shot (long shots in chained segments), re-rendering only shots that changed.

    Each shot's frames go to disk segment by segment, into the shot store (kept between processes, keyed by
    what made the shot), and the clip maps the shots' files side by side: a two-minute sequence holds one model
    window in memory, not two minutes of frames, and its frames once on disk."""
    import time

    from studio import runtime
    from studio.directing import DirectingError
    from studio.directing.shots import (
        DETACHED,
        explain_shot,
        last_parts_of,
        parse_selection,
        plan_segments,
        shot_message,
    )
    from studio.engine.keys import digest
    from studio.media.framestore_spool import FrameSpool, join_spools
    from studio.media.shot_store import ShotStore
    from studio.runtime.recipes.sequence import RECIPE_VERSION, render_shot
    from studio.runtime.recipes.steering import frame_step
    from studio.values import Video

    defaults = model.defaults
    width = width or defaults["width"]
    height = height or defaults["height"]
    negative = negative_prompt.strip()
    window, step = int(defaults["num_frames"]), frame_step(model)
    # The Load Model node's key names the options, not the weights: a folder whose files were replaced (or the
    # embedded model retrained) keeps its key. Shots outlive the process in the shot store, so their key
    # also names the weights, the LoRAs and where the model runs (CPU and GPU frames differ).
    model_key = [ctx.input_key("model"), model.weights_id, list(model.adapters), model.device, model.dtype,
                 RECIPE_VERSION]
    count = len(shots.shots)
    try:
        selection = parse_selection(only_shots, count)
    except DirectingError as exc:
        raise DirectingError(f"only_shots '{only_shots}': {exc.message}", hint=exc.hint) from None
    settings = {"width": width, "height": height, "fps": fps, "steps": steps, "guidance": guidance,
                "negative_prompt": negative}
    store = ShotStore(warn=ctx.warn)
    # The key parts each shot rendered with last time, by row: what "why did this shot run again" compares
    # (kept in the store too, so a fresh process can say it).
    scope = digest(["shot-rows", str(ctx.base_dir or ""), ctx.node_id])
    last_parts = ctx.memo("shot-parts", [ctx.node_id], lambda: store.remembered(scope))
    rendered_before = dict(last_parts)  # as they were before this run (the loop below updates last_parts)

    # First pass: each shot's key (its own row, the settings and, for a continue, the key of the shot before)
    # and where its frames come from: the memo, the shot store, a render (picked, or no selection), or nowhere
    # (not picked and not kept: left out).
    plan = []  # (shot, key, parts, spool or None, segments, where it came from)
    previous_key = None
    for shot in shots.shots:
        character = shots.character(shot.character)
        picked = selection is None or shot.row in selection
        continues = shot.continues and previous_key is not None
        parts = {"prompt": shot.prompt, "frames": shot.num_frames(fps), "seed": shot.seed,
                 "transition": shot.transition, "character": character.digest if character is not None else None,
                 "previous": previous_key if continues else (DETACHED if shot.continues else None),
                 "settings": settings, "model": model_key, "window": window}
        key = digest(["shot", parts])
        spool, source = (None, None) if picked else _kept(ctx, store, key, height, width)
        if spool is None and not picked:
            plan.append((shot, key, parts, None, [], None))
            previous_key = None
            continue
        segments = plan_segments(shot.num_frames(fps), window, step, continues)
        plan.append((shot, key, parts, spool, segments, source))
        previous_key = key
    # A picked shot is looked up once, when its turn comes (memo, then store, then render): the total counts
    # the picked shots the store does not hold (one found damaged then adds its steps).
    counted = {key for _, key, _, spool, segments, _ in plan if spool is None and segments and not store.has(key)}
    total = max(1, steps * sum(len(segments) for _, key, _, _, segments, _ in plan if key in counted))

    included: list[tuple] = []  # (shot, first frame in the clip, its spool)
    ran: list[tuple[int, str]] = []
    kept = {"memo": 0, "store": 0}
    done, previous, at = 0, None, 0
    for shot, key, parts, spool, segments, source in plan:
        ctx.check_cancelled()
        index = shot.row
        character = shots.character(shot.character)

        def say(text: str, shot=shot) -> str:
            return shot_message(shot.row, count, shot.name, text)

        if not segments:
            ctx.progress(done, total, message=say(f"left out: not in only_shots ({only_shots.strip()}), and not "
                                                  "rendered before as it is now"))
            previous = None
            continue

        def render(shot=shot, segments=segments, character=character, offset=done, say=say, parts=parts,
                   previous=previous, key=key):
            # what this shot (found by its name: rows move) rendered with last time
            then, old = last_parts_of(rendered_before, shot.row, shot.name)
            why = explain_shot(old, parts, bool(ran) and ran[-1][0] == shot.row - 1, then, shot.row)
            if parts["previous"] == DETACHED and "starts afresh" not in why:
                why += f"; it continues shot {shot.row - 1}, which is not in this render: it starts afresh"
            log.info("%s", say(f"rendering ({why})"))
            ran.append((shot.row, why))
            ctx.progress(offset, total, message=say(f"rendering ({why})"))
            embeds = ctx.memo("encode_prompt", [ctx.input_key("model"), shot.prompt, negative, guidance > 1.0],
                              lambda: runtime.encode_prompt(model, shot.prompt, negative, guidance))
            start, request = _start(model, shot, character, previous if parts["previous"] not in (None, DETACHED)
                                    else None, width, height)
            request.steps, request.guidance, request.preview = steps, guidance, preview
            started = time.perf_counter()

            def on_step(update, before) -> None:
                ctx.progress(offset + before + update.step, total, update.preview if preview else None,
                             message=say(f"step {update.step}/{update.total}"))

            out = store.new_shot(height, width)  # rendered straight into the store's folder: kept by a rename
            try:
                render_shot(model, shot, embeds, request, segments, start, out, on_step=on_step,
                            is_cancelled=ctx.is_cancelled)
            except BaseException:
                out.close()  # a cancelled or failed shot leaves no file behind
                raise
            ctx.progress(offset + steps * len(segments), total,
                         message=say(f"done in {time.perf_counter() - started:.1f} s"))
            try:
                return store.put(key, out, fps, parts)
            except OSError as exc:  # a full disk: this render still has the shot, the next renders it again
                ctx.warn(f"shot {shot.row} could not be kept in the shot store ({exc.strerror or exc})")
                return out

        if spool is None:

            def render_counted(key=key, render=render, segments=segments):
                nonlocal total
                if key not in counted:  # the store held it when the total was made, damaged (or evicted) since
                    total += steps * len(segments)
                return render()

            spool, source = _kept(ctx, store, key, height, width, render_counted)
        if source == "render":
            done += steps * len(segments)
        else:
            kept[source] += 1
            ctx.progress(done, total, message=say("unchanged, from the memo" if source == "memo"
                                                  else "unchanged, from the shot store"))
        last_parts[index] = {**parts, "name": shot.name}  # the name finds the shot after rows move
        included.append((shot, at, spool))
        at += len(spool)
        previous = spool
    ctx.check_cancelled()
    store.remember(scope, last_parts)
    left_out = count - len(included)
    summary = (f"rendered {len(ran)} of {count} shots"
               + (f" ({', '.join(str(row) for row, _ in ran)})" if ran else "")
               + f"; {kept['memo']} unchanged from the memo"
               + (f", {kept['store']} from the shot store" if kept["store"] else "")
               + (f"; {left_out} left out (not picked, not rendered before)" if left_out else ""))
    log.info(summary)
    ctx.progress(total, total, message=summary)
    spools = [spool for _, _, spool in included]
    frames = join_spools(spools)  # the clip reads through the shots' files: its frames are on disk once
    if frames is None:  # where files cannot be mapped side by side: one copy of the frames, on disk
        joined = FrameSpool(height, width)
        for spool in spools:
            joined.extend(spool)
        frames = joined.frames()
        joined.close()
    included = [(shot, start) for shot, start, _ in included]
    return Video(frames, fps, _generation(model, shots, included, frames, fps, width, height, steps, guidance,
                                          negative))


def _kept(ctx, store, key: str, height: int, width: int, otherwise=None):
    """A shot's spool and where it came from: the memo (this process rendered or read it), the shot store (an
    earlier process did), or ``otherwise()`` ("render"); without ``otherwise``, (None, None) when it is in
    neither."""
    found = []

    def from_store():
        spool = store.get(key, height, width)
        if spool is not None:
            found.append("store")
            return spool
        if otherwise is None:
            raise _NotKept()
        found.append("render")
        return otherwise()

    try:
        spool = ctx.memo("shot", [key], from_store)
    except _NotKept:
        return None, None
    return spool, found[0] if found else "memo"


class _NotKept(Exception):
    """A shot in neither the memo nor the shot store (raised through ``ctx.memo``, which keeps nothing when its
    compute raises): it renders, or is left out when not picked."""


def _start(model, shot, character, previous, width: int, height: int):
    """The first frame a shot starts from, and its request (the character as a reference where it is one).
    ``previous``: the spool of the shot it continues from (None for a cut, or when that shot is left out)."""
    from studio import runtime
    from studio.media.image import fit_image

    request = runtime.VideoRequest(num_frames=1, height=height, width=width)
    picture = None
    if character is not None:
        picture = fit_image(character.picture.pixels, width, height, character.picture.fit)
        if character.picture.role == "reference":
            request.reference = picture  # the subject to keep anywhere in the shot (Wan VACE)
            picture = None
    if previous is not None:
        return previous.last(), request
    return picture, request


def _generation(model, shots, included, frames, fps: float, width: int, height: int, steps: int, guidance: float,
                negative: str):
    """What made the sequence: each shot in it a section (its start and prompt), for the timeline, the
    manifest and the editor timeline's clips. ``included``: (shot, first frame) of the shots in the clip."""
    from studio.values import Generation, ShotRecord

    sections = tuple((start / fps, shot.prompt) for shot, start in included)
    first = included[0][0]
    reference = next((c.picture.source for c in shots.characters if c.picture.source), None)
    return Generation(
        model=model.name, model_hash=model.weights_id, prompt=first.prompt, negative=negative,
        sections=sections if len(sections) > 1 else (), seed=first.seed, steps=steps, guidance=guidance,
        width=width, height=height, num_frames=int(frames.shape[0]), fps=fps, mode="sequence",
        reference_image=reference,
        reference_use=next((c.picture.role for c in shots.characters if c.picture.source), None),
        shots=tuple(ShotRecord(shot.name, start / fps, shot.prompt, shot.seed,
                               shot.transition, shot.character or None)
                    for shot, start in included),
        character_images=tuple(c.picture.source for c in shots.characters if c.picture.source),
    )
