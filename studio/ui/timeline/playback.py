"""Playback at the clip's rate by a monotonic clock (late frames are dropped, never drift), with sound."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from studio.ui.timeline.model import TimelineModel
from studio.values import Sound

log = logging.getLogger(__name__)


class AudioOutput(QObject):
    """Plays a Sound from an offset through QtMultimedia when it is installed and a device exists;
    otherwise it stays silent (headless machines, CI) and playback goes on without it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sink: Any = None
        self._buffer: Any = None
        self._start = 0.0  # seconds into the sound where this play began
        self._bytes_per_second = 1
        self.available = True
        self._no_device_until = 0.0
        self.reason = ""
        self.muted = False
        self.output_latency = 0.0  # seconds the device adds after the sink (see ``latency``)

    def _multimedia(self) -> Any:
        try:
            from PySide6 import QtMultimedia
        except ImportError as exc:  # PySide6-Addons absent, or libpulse missing on Linux
            self.available, self.reason = False, f"no audio output ({exc})"
            log.info(self.reason)
            return None
        return QtMultimedia

    def start(self, sound: Sound | None, seconds: float) -> bool:
        """Start ``sound`` at ``seconds``; returns whether anything is audible."""
        self.stop()
        if sound is None or self.muted or not self.available or seconds >= sound.seconds:
            return False
        qm = self._multimedia()
        if qm is None:
            return False
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        if time.monotonic() < self._no_device_until:
            return False
        device = qm.QMediaDevices.defaultAudioOutput()
        if device.isNull():
            # asking again at every play can block (a sound server that is not there): wait a while
            self.reason, self._no_device_until = "no audio device", time.monotonic() + 10.0
            return False
        samples = np.asarray(sound.samples, np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        fmt = qm.QAudioFormat()
        fmt.setSampleRate(int(sound.rate))
        fmt.setChannelCount(int(samples.shape[1]))
        fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Float)
        if not device.isFormatSupported(fmt):
            fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Int16)
        start = max(0, int(seconds * sound.rate))
        chunk = samples[start:]
        if fmt.sampleFormat() == qm.QAudioFormat.SampleFormat.Int16:
            data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16).tobytes()
        else:
            data = np.ascontiguousarray(chunk).tobytes()
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = qm.QAudioSink(device, fmt, self)
        self._start = start / sound.rate
        self._bytes_per_second = max(1, fmt.bytesPerFrame() * fmt.sampleRate())
        self._sink.start(self._buffer)
        if self._sink.error() != qm.QAudio.Error.NoError:
            self.reason = f"audio output failed ({self._sink.error().name})"
            self.stop()
            return False
        return True

    def latency(self) -> float:
        """Seconds from a sample the sink has taken to it being heard: what waits in the sink's
        buffer now, plus the device's own delay (``start_delay``). 0 when nothing plays."""
        sink = self._sink
        if sink is None:
            return 0.0
        queued = max(0, sink.bufferSize() - sink.bytesFree()) / self._bytes_per_second
        return queued + self.start_delay()

    def start_delay(self) -> float:
        """Seconds from ``start`` to the first sample being heard: the first sample leads the sink's
        buffer, so only the device's delay after it counts, ``output_latency``, which Qt does not
        report (a setting a person tunes: Bluetooth headphones add 0.1-0.3 s). 0 when nothing plays."""
        return max(0.0, self.output_latency) if self._sink is not None else 0.0

    def position(self) -> float | None:
        """Seconds into the sound that is being heard now, or None when nothing plays."""
        sink = self._sink
        if sink is None:
            return None
        processed = sink.processedUSecs() / 1e6
        return self._start + max(0.0, processed - self.latency())

    def stop(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            self._sink.deleteLater()
            self._sink = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.deleteLater()
            self._buffer = None


class Playback(QObject):
    """Moves the playhead while playing. The frame shown is the one the clock says is due, so a slow
    paint skips frames instead of slowing the clip down; the sound starts with the clock."""

    playing_changed = Signal(bool)
    RATES = (1.0, 2.0, 4.0, 8.0)

    def __init__(
        self, model: TimelineModel, audio: AudioOutput | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.audio = audio or AudioOutput(self)
        self.rate = 0.0  # frames of the clip per frame of wall time; negative plays backwards
        self.loop = True
        self.dropped = 0  # frames the clock skipped because the previous one came late
        self.advanced = 0
        self.resyncs = 0  # times the picture was re-anchored to the sound's clock
        self._audible = False
        self._audio_from = 0.0
        self._t0 = 0.0
        self._f0 = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self.clock = time.monotonic
        model.clip_changed.connect(self._clip_changed)

    @property
    def playing(self) -> bool:
        return self.rate != 0.0

    def play(self, rate: float = 1.0) -> None:
        m = self.model
        if m.count <= 1 or rate == 0.0:
            self.pause()
            return
        if rate > 0 and m.playhead >= m.last:
            m.set_playhead(m.first)
        elif rate < 0 and m.playhead <= m.first:
            m.set_playhead(m.last)
        was = self.playing
        self.rate = rate
        self._restart_clock()
        if not was:
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self.rate = 0.0
        self._timer.stop()
        self.audio.stop()
        self.playing_changed.emit(False)

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play(1.0)

    def shuttle(self, direction: int) -> None:
        """J (-1) and L (+1): start that way, or go faster each press; the other way slows to a stop first."""
        if direction == 0:
            self.pause()
            return
        if self.playing and math.copysign(1, self.rate) == direction:
            faster = [r for r in self.RATES if r > abs(self.rate)]
            self.play(direction * (faster[0] if faster else self.RATES[-1]))
        elif self.playing:
            self.pause()
        else:
            self.play(float(direction))

    def _restart_clock(self) -> None:
        self._f0 = self.model.playhead
        self._audible = False
        if self.rate == 1.0:
            self._audible = self.audio.start(self.model.sound, self._f0 / self.model.fps)
            self._audio_from = self._f0 / self.model.fps
        else:
            self.audio.stop()  # sound at other speeds is noise; NLEs mute it too
        # after the sound has started (opening a device can take a while), and later by the sound's
        # latency: the first frame holds until its sound is heard, so picture and sound line up
        self._t0 = self.clock() + (self.audio.start_delay() if self._audible else 0.0)
        self._schedule(0.0)

    def _clip_changed(self) -> None:
        if self.playing:
            self._restart_clock()

    def _due(self) -> float:
        return self._f0 + max(0.0, self.clock() - self._t0) * self.model.fps * self.rate

    def _follow_audio(self, due: float) -> float:
        """While sound plays, its device's clock leads: the picture is re-anchored to it when they
        differ by more than a frame and a half (output latency, a device running fast or slow)."""
        if not self._audible:
            return due
        heard = self.audio.position()
        if heard is None or heard <= self._audio_from + 0.05:  # not started yet: do not wait on it
            return due
        frame = heard * self.model.fps
        if abs(frame - due) > 1.5:
            self.resyncs += 1
            self._t0, self._f0 = self.clock(), frame
            return frame
        return due

    def _schedule(self, due: float) -> None:
        # wake at the next frame boundary rather than on a fixed tick: no beat between timer and clip
        fraction = due - math.floor(due) if self.rate > 0 else math.ceil(due) - due
        wait_frames = (1.0 - fraction) if fraction > 1e-6 else 1.0
        ms = wait_frames / (self.model.fps * abs(self.rate)) * 1000.0
        self._timer.start(max(1, math.ceil(ms)))

    def _tick(self) -> None:
        if not self.playing:
            return
        m = self.model
        due = self._follow_audio(self._due())
        target = math.floor(due + 1e-9) if self.rate > 0 else math.ceil(due - 1e-9)
        first, last = m.first, m.last
        if target > last or target < first:
            if not self.loop:
                m.set_playhead(last if target > last else first)
                self.pause()
                return
            target = first if self.rate > 0 else last
            m.set_playhead(target)
            self._restart_clock()
            return
        step = abs(target - m.playhead)
        if step > 1:
            self.dropped += step - 1
        if step:
            self.advanced += 1
            m.set_playhead(target)
        self._schedule(due)
