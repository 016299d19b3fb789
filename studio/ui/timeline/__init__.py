"""The timeline and viewer: scrub, play and compare the clip a render makes, with its sound and camera."""

from studio.ui.timeline.camera import CameraLane, MoveKeyframe, find_camera_param, sample_keyframes
from studio.ui.timeline.dock import TimelineDocks, TimelinePanel
from studio.ui.timeline.lanes import AudioLane, ThumbnailLane, WaveformEnvelope
from studio.ui.timeline.live import LiveRender
from studio.ui.timeline.model import Marker, TimeAxis, TimelineModel, timecode
from studio.ui.timeline.playback import AudioOutput, Playback
from studio.ui.timeline.ruler import TimeRuler
from studio.ui.timeline.sequence import SequenceFeed
from studio.ui.timeline.shotplan import ShotFeed, ShotSection
from studio.ui.timeline.shots import ShotLane
from studio.ui.timeline.transport import Transport
from studio.ui.timeline.viewer import FrameViewer, ViewerPanel

__all__ = [
    "AudioLane",
    "AudioOutput",
    "CameraLane",
    "FrameViewer",
    "LiveRender",
    "Marker",
    "MoveKeyframe",
    "Playback",
    "SequenceFeed",
    "ShotFeed",
    "ShotLane",
    "ShotSection",
    "ThumbnailLane",
    "TimeAxis",
    "TimeRuler",
    "TimelineDocks",
    "TimelineModel",
    "TimelinePanel",
    "Transport",
    "ViewerPanel",
    "WaveformEnvelope",
    "find_camera_param",
    "sample_keyframes",
    "timecode",
]
