"""What the recognise flow remembers per track: one `TrackRecord` per live track, in a bounded `TrackBook`.

A camera's book forgets a track after ``lost_frames`` detected frames unseen, or beyond ``max_tracks`` (oldest
first), so memory stays bounded however long a camera runs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from classifiers.crops import crop_box
from classifiers.fusion import TrackFusion, top_labels
from classifiers.plates.fusion import PlateFusion
from classifiers.plates.types import PlateReading
from classifiers.settings import FusionSettings
from classifiers.types import Classification
from streamer.recognize.schedule import ScheduleState
from streamer.recognize.settings import ScheduleSettings
from watchlists.matching import Match

_SNAPSHOT_MAX_SIDE = 512  # a track's best crop is kept at most this large (bounded memory per track)


@dataclass(eq=False)
class TrackRecord:
    """Everything remembered about one live track of one camera."""

    camera_id: str
    track_id: int
    fusion: TrackFusion
    first_seen: float
    last_seen: float
    first_frame: int
    last_frame: int
    last_tick: int
    """The camera's detected-frame count when the track last had a box (for expiry)."""
    frames_seen: int = 0
    frames_since_view: int = 0
    last_area: float = 0.0
    detector_classes: dict[str, int] = field(default_factory=dict)
    best_score: float = 0.0
    best_crop: NDArray[np.uint8] | None = None
    best_frame: int = -1
    pending_views: int = 0
    """Classifications scheduled on this batch whose results have not come back yet."""
    fused: Classification | None = None
    """The fused classification, make and model reconciled, as last matched (None before matching)."""
    matches: tuple[Match, ...] = ()
    matched_revision: int = -1
    """The watchlist revision ``matches`` were computed with; another one means match again."""
    alerted: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    alerts: int = 0
    last_box: NDArray[np.float32] = field(default_factory=lambda: np.zeros(4, np.float32))
    """The box on the latest frame the track was seen on, with its detector score and class."""
    last_score: float = 0.0
    last_class: str = ""
    settled: bool = False
    """The fused label is confident and stable: the track is not classified again."""
    plate_fusion: PlateFusion = field(default_factory=PlateFusion)
    """The track's plate reads (`streamer.recognize.plates`)."""
    plate: PlateReading | None = None
    """The fused plate in frame pixels, or None before a successful read."""
    plate_attempts: int = 0
    plate_due: int = 0
    """``frames_seen`` from which the plate may be read again."""
    plate_settled: bool = False
    _stable_for: int = 0
    _last_top: dict[str, str] = field(default_factory=dict)

    def seen(self, frame_index: int, captured_at: float, tick: int, detector_class: str) -> None:
        """The track has a box on this frame."""
        self.last_seen = captured_at
        self.last_frame = frame_index
        self.last_tick = tick
        self.frames_seen += 1
        self.frames_since_view += 1
        self.detector_classes[detector_class] = self.detector_classes.get(detector_class, 0) + 1

    def sighted(self, box: NDArray[np.float32], score: float, detector_class: str) -> None:
        """The track's box on its latest frame: where an alert raised now points."""
        self.last_box = box
        self.last_score = score
        self.last_class = detector_class

    def offer_snapshot(
        self, image: NDArray[np.uint8], box: NDArray[np.float32], score: float, frame_index: int
    ) -> None:
        """Keeps a copy of the box's crop if it is the track's best view so far (highest quality score)."""
        if score <= self.best_score:
            return
        crop_bgr = crop_box(image, box)
        if crop_bgr.size == 0:
            return
        h, w = crop_bgr.shape[:2]
        scale = _SNAPSHOT_MAX_SIDE / max(h, w)
        if scale < 1.0:
            size = (max(int(w * scale), 1), max(int(h * scale), 1))
            crop_bgr = np.asarray(cv2.resize(crop_bgr, size, interpolation=cv2.INTER_AREA), np.uint8)
        elif crop_bgr.base is not None:
            crop_bgr = crop_bgr.copy()  # a view (a full-width crop) would keep the whole frame alive
        self.best_crop = crop_bgr
        self.best_score = score
        self.best_frame = frame_index

    def schedule(self, area: float) -> None:
        """The track is classified on this frame (the result comes with `add_view` or `drop_view`)."""
        self.pending_views += 1
        self.frames_since_view = 0
        self.last_area = area

    def drop_view(self) -> None:
        """A scheduled classification brought no result."""
        self.pending_views = max(self.pending_views - 1, 0)

    def add_view(self, classification: Classification, weight: float, settings: ScheduleSettings) -> None:
        """Fuses a scheduled classification of the track and updates whether its label is settled."""
        self.drop_view()
        self.fusion.add(classification, weight)
        top = top_labels(self.fusion.fused())
        self._stable_for = self._stable_for + 1 if top == self._last_top else 1
        self._last_top = top
        confident = all(c >= settings.stop_confidence for c in self.fusion.confidence().values())
        self.settled = confident and self._stable_for >= settings.stable_views

    def schedule_state(self) -> ScheduleState:
        return ScheduleState(
            self.fusion.views + self.pending_views, self.frames_since_view, self.last_area, self.settled
        )

    @property
    def detector_class(self) -> str:
        """The detector class the track's boxes had most often."""
        return max(self.detector_classes.items(), key=lambda item: item[1])[0] if self.detector_classes else ""


class TrackBook:
    """The live tracks of one camera, bounded: unseen ones expire, and at most ``max_tracks`` are kept.

    Args:
        camera_id: the camera.
        lost_frames: detected frames a track may go unseen before it ends (the tracker's own horizon).
        max_tracks: most tracks remembered; beyond it the longest-unseen ends first.
        fusion: settings for each new track's fusion.
        schedule: when the camera's tracks are classified.
    """

    def __init__(
        self,
        camera_id: str,
        lost_frames: int,
        max_tracks: int,
        fusion: FusionSettings,
        schedule: ScheduleSettings | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.lost_frames = lost_frames
        self.max_tracks = max_tracks
        self.fusion = fusion
        self.schedule = schedule if schedule is not None else ScheduleSettings()
        """When this camera's tracks are classified (frame counts in the camera's detected frames)."""
        self.tick = 0
        # Ordered by last sighting (each sighting moves the track to the end): expired ones are at the front.
        self._tracks: OrderedDict[int, TrackRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tracks)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._tracks

    def next_frame(self) -> None:
        """A new detected frame of the camera begins."""
        self.tick += 1

    def observe(self, track_id: int, frame_index: int, captured_at: float, detector_class: str) -> TrackRecord:
        """The track's record (made on its first box), marked as seen on the current frame."""
        record = self._tracks.get(track_id)
        if record is None:
            record = TrackRecord(
                camera_id=self.camera_id,
                track_id=track_id,
                fusion=TrackFusion(self.fusion),
                first_seen=captured_at,
                last_seen=captured_at,
                first_frame=frame_index,
                last_frame=frame_index,
                last_tick=self.tick,
            )
            self._tracks[track_id] = record
        else:
            self._tracks.move_to_end(track_id)
        record.seen(frame_index, captured_at, self.tick, detector_class)
        return record

    def get(self, track_id: int) -> TrackRecord:
        """The live track's record (KeyError if it has ended)."""
        return self._tracks[track_id]

    def expire(self) -> list[TrackRecord]:
        """Ends and returns the tracks unseen for more than ``lost_frames`` frames, and the oldest over the cap."""
        ended: list[TrackRecord] = []
        while self._tracks:
            oldest = next(iter(self._tracks.values()))
            if self.tick - oldest.last_tick <= self.lost_frames and len(self._tracks) <= self.max_tracks:
                break
            ended.append(self._tracks.popitem(last=False)[1])
        return ended

    def end_all(self) -> list[TrackRecord]:
        """Ends every track (the camera's stream is over)."""
        ended = list(self._tracks.values())
        self._tracks.clear()
        return ended

    def records(self) -> list[TrackRecord]:
        return list(self._tracks.values())
