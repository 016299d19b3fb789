"""Writes song.ogg, the beat-zoom example's soundtrack: 2.1 s of a kick on every beat (120 BPM) over a low
chord, synthesised here (no recording, no licence question). Run: python resources/examples/make_song.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

SECONDS, BPM, RATE = 2.1, 120.0, 44_100


def song(seconds: float = SECONDS, bpm: float = BPM, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    chord = 0.12 * (np.sin(2 * np.pi * 110 * t) + np.sin(2 * np.pi * 165 * t) + 0.5 * np.sin(2 * np.pi * 220 * t))
    kick = np.zeros_like(t)
    for start in np.arange(0.0, seconds, 60.0 / bpm):
        n = int(start * rate)
        k = np.arange(min(8000, len(t) - n))
        sweep = 2 * np.pi * np.cumsum(45 + 90 * np.exp(-k / 300.0)) / rate  # a falling pitch: a drum's thump
        kick[n : n + len(k)] = 0.85 * np.exp(-k / 1000.0) * np.sin(sweep)  # gone (1e-4) before it ends
    fade = np.minimum(1.0, (len(t) - np.arange(len(t))) / (0.05 * rate))  # no click at the end
    left, right = (chord + kick) * fade, (chord + 0.85 * kick) * fade
    return np.stack([left, right], 1).astype(np.float32)


if __name__ == "__main__":
    out = Path(__file__).with_name("song.ogg")
    soundfile.write(str(out), song(), RATE, format="OGG", subtype="VORBIS")
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
