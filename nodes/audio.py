"""Audio nodes: load a soundtrack and turn its loudness or rhythm into a per-frame signal."""

from __future__ import annotations

from studio.graph import ParamSpec, PortSpec, node

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3)"
SIGNAL_CHOICES = ("envelope", "beats", "onsets", "onset_strength")


@node(
    "studio.Audio",
    title="Audio",
    category="Inputs",
    outputs=[
        PortSpec("audio", "AUDIO", "the sound (Export muxes it in sync; Generate Video can take its length)"),
        PortSpec("signal", "SIGNAL", "loudness or rhythm, one value 0..1 per video frame"),
    ],
    params=[
        ParamSpec("path", "path", "", help="A WAV, FLAC, OGG or MP3 file. The sound is kept "
                  "at 48 kHz stereo at most (more channels are mixed down), and at most 10 minutes of stereo "
                  "(20 of mono): use offset and duration for a part of a longer file.", file_filter=AUDIO_FILTER),
        ParamSpec("offset", "float", 0.0, minimum=0, maximum=36000,
                  help="Seconds of the file to skip: frame 0 of the clip plays with this moment."),
        ParamSpec("duration", "float", 0.0, minimum=0, maximum=36000,
                  help="Seconds to keep; 0 keeps the rest (up to 10 minutes of stereo)."),
        ParamSpec("signal", "enum", "envelope", choices=SIGNAL_CHOICES,
                  help="envelope: loudness; beats: a pulse on every beat; onsets: a pulse on every new sound; "
                       "onset_strength: how sharply the sound rises."),
        ParamSpec("decay", "float", 0.15, minimum=0.01, maximum=5,
                  help="Beats and onsets: seconds a pulse takes to fall to a third."),
        ParamSpec("fps", "float", 16.0, minimum=1, maximum=120,
                  help="Frame rate of the signal: use the clip's (Generate Video's fps)."),
    ],
)
def audio(ctx, path: str, offset: float, duration: float, signal: str, decay: float, fps: float):
    """A soundtrack and its loudness envelope, beats or onsets as a signal.

    The sound is decoded a block at a time and kept as the export needs it (at most 48 kHz stereo); the
    analysis mixes it to mono at 22.05 kHz. Files over the caps of studio.media.audio are refused by name
    before they are decoded.
    """
    from studio.directing.signal import pulses
    from studio.errors import NodeError
    from studio.media.audio import analyse, load_audio
    from studio.values import Signal

    if not path:
        raise NodeError("no audio file chosen", hint="pick a WAV, FLAC, OGG or MP3 file in the inspector")
    sound = load_audio(ctx.resolve_path(path), offset=offset, duration=duration)
    ctx.progress(0, 1, message="analysing audio")
    analysis = analyse(sound, fps)
    if signal == "envelope":
        values, events = analysis.envelope, analysis.onsets
    elif signal == "onset_strength":
        values, events = analysis.onset_strength, analysis.onsets
    else:
        events = analysis.beats if signal == "beats" else analysis.onsets
        values = pulses(events, analysis.num_frames, decay * fps)
        if not events:
            ctx.warn(f"no {signal} found in the sound: the signal stays at 0")
    label = f"{signal} of {sound.source.rsplit('/', 1)[-1]}"
    if analysis.tempo:
        label += f" ({analysis.tempo:.0f} BPM)"
    return {"audio": sound, "signal": Signal(values, fps, label=label, events=tuple(events))}
