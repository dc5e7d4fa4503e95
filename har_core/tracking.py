"""Person tracking: a stable id per person across frames, and the choice of a "primary" person.

Frame-to-frame association is Roboflow's ByteTrack (`trackers` package, Apache-2.0): a Kalman
filter predicts each person's box, detections are matched by IoU in two rounds (confident people
first, then low-score ones, which keeps ids through partial occlusion), and a person who is missed
keeps the id for `lost_seconds`. It carries people through crossings and brief occlusions.

ByteTrack forgets a person once `lost_seconds` have passed, so someone who walks out of the frame
and comes back would get a new id. `PoseTracker` adds a small re-entry step on top: when ByteTrack
starts a new track, it is given the id of a person who vanished within `reentry_seconds` if it
appears near where that person was last seen (within `reentry_distance` of their last box height,
at a similar size). No appearance model is involved, so two different people who leave and enter at
the same spot in quick succession share an id; the dashboard's per-person timelines make that
visible, and `reentry_seconds=0` turns the step off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from har_core.errors import NoPersonError, VideoError
from har_core.poses import Poses

# ByteTrack counts its lost-track buffer in frames of a 30 fps video.
_BYTETRACK_FPS = 30.0


@dataclass
class TrackStats:
    """What one tracked person did over the clip, accumulated one frame at a time.

    Attributes:
        track_id: the person's id.
        first_frame, last_frame: first and last frame index the person was seen in.
        frames_present: number of frames the person was seen in.
        height_sum: sum over those frames of the person's box height in pixels; presence weighted by
            size, which is what `choose_primary` ranks by.
        score_sum: sum of the person scores, for a mean confidence.
    """

    track_id: int
    first_frame: int
    last_frame: int
    frames_present: int = 0
    height_sum: float = 0.0
    score_sum: float = 0.0

    def add(self, frame_index: int, box: np.ndarray, score: float) -> None:
        """Count one more frame in which this person was seen with `box` (x1, y1, x2, y2)."""
        self.first_frame = min(self.first_frame, frame_index)
        self.last_frame = max(self.last_frame, frame_index)
        self.frames_present += 1
        self.height_sum += float(box[3] - box[1])
        self.score_sum += float(score)

    @property
    def mean_height(self) -> float:
        """Mean box height in pixels over the frames the person was seen in."""
        return self.height_sum / max(self.frames_present, 1)

    @property
    def mean_score(self) -> float:
        """Mean person score over the frames the person was seen in."""
        return self.score_sum / max(self.frames_present, 1)


def choose_primary(tracks: Iterable[TrackStats]) -> int:
    """The id of the person who is most present and largest: the highest sum of box heights.

    Summing heights over frames ranks a person seen twice as long like one seen twice as tall, so a
    small passer-by present throughout does not beat the large subject who is briefly out of frame.
    Ties go to the person seen first.

    Raises:
        NoPersonError: no tracks at all.
    """
    ranked = sorted(tracks, key=lambda t: (-t.height_sum, t.first_frame, t.track_id))
    if not ranked:
        raise NoPersonError("no person was found in any frame")
    return ranked[0].track_id


@dataclass
class _LastSeen:
    """Where and when a person was last seen, for re-entry matching."""

    time_s: float
    box: np.ndarray


class PoseTracker:
    """Gives each person in a stream of `Poses` a stable id; one instance per video.

    Args:
        fps: the video's nominal frame rate; converts frame indices to seconds when no timestamps
            are given, and scales ByteTrack's Kalman steps.
        lost_seconds: how long ByteTrack keeps predicting a person it no longer sees (occlusion).
        reentry_seconds: how long after a person vanished a newcomer near their last position may
            take their id back; 0 disables re-entry.
        reentry_distance: the largest gap between the newcomer's box centre and the vanished
            person's last box centre, in units of that last box's height.
        new_track_score: the least person score that may start a new track; lower-scored people only
            extend existing tracks (ByteTrack's second round).
    """

    def __init__(
        self,
        fps: float = 30.0,
        lost_seconds: float = 1.0,
        reentry_seconds: float = 10.0,
        reentry_distance: float = 1.0,
        new_track_score: float = 0.3,
    ) -> None:
        if not fps > 0:
            raise VideoError(f"the video's frame rate must be positive to track people, got {fps}")
        self.fps = fps
        self.lost_seconds = lost_seconds
        self.reentry_seconds = reentry_seconds
        self.reentry_distance = reentry_distance
        self._bytetrack = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_seconds * _BYTETRACK_FPS)),
            frame_rate=fps,
            track_activation_threshold=new_track_score,
            high_conf_det_threshold=new_track_score,
            minimum_consecutive_frames=1,
        )
        self._public_id: dict[int, int] = {}  # ByteTrack id -> our id
        self._last_seen: dict[int, _LastSeen] = {}  # our id -> last sighting
        self.stats: dict[int, TrackStats] = {}  # our id -> statistics so far
        self._next_id = 0
        self._last_time: float | None = None

    def update(self, poses: Poses, frame_index: int, time_s: float | None = None) -> Poses:
        """Track one frame; returns the tracked people in input order with `track_ids` set.

        A person ByteTrack has not confirmed yet (the first frame of a new track, or a low-score
        detection that matches nobody) is left out, so every returned id is >= 0.

        Args:
            poses: the frame's people from a pose backend.
            frame_index: the frame's index in the video (frames must come in increasing order).
            time_s: the frame's timestamp; defaults to `frame_index / fps` (pass real timestamps for
                variable frame rate video). A timestamp that does not advance is taken as one
                nominal frame after the previous one.
        """
        now = frame_index / self.fps if time_s is None else time_s
        if self._last_time is not None and not now > self._last_time:
            # Some containers (AVI with packed B-frames) report timestamps out of order; a tracker
            # that skipped such frames would drop everyone in them, so step one nominal frame on.
            now = self._last_time + 1.0 / self.fps
        self._last_time = now
        detections = sv.Detections(
            xyxy=poses.boxes.astype(np.float32).reshape(-1, 4),
            confidence=poses.scores.astype(np.float32),
            data={"row": np.arange(len(poses))},
        )
        tracked = self._bytetrack.update(detections, timestamp=now)
        rows = np.asarray(tracked.data.get("row", np.zeros(0, dtype=int)), dtype=int)
        bytetrack_ids = np.asarray(tracked.tracker_id, dtype=int)
        ids = np.full(len(poses), -1, dtype=np.int64)
        known = {self._public_id[b] for b in bytetrack_ids if b in self._public_id}
        for row, bytetrack_id in sorted(zip(rows, bytetrack_ids, strict=True)):
            if bytetrack_id < 0:
                continue
            if bytetrack_id not in self._public_id:
                self._public_id[bytetrack_id] = self._reentered(poses.boxes[row], now, exclude=known)
            ids[row] = self._public_id[bytetrack_id]
            known.add(int(ids[row]))
        keep = ids >= 0
        result = Poses(poses.keypoints[keep], poses.boxes[keep], poses.scores[keep], ids[keep])
        for box, score, track_id in zip(result.boxes, result.scores, result.track_ids, strict=True):
            self._last_seen[int(track_id)] = _LastSeen(time_s=now, box=box.copy())
            stats = self.stats.setdefault(int(track_id), TrackStats(int(track_id), frame_index, frame_index))
            stats.add(frame_index, box, float(score))
        return result

    def _reentered(self, box: np.ndarray, now: float, exclude: set[int]) -> int:
        """The id of a recently vanished person whose last box fits `box`, else a fresh id."""
        best_id, best_distance = -1, self.reentry_distance
        centre = (box[:2] + box[2:]) / 2
        height = max(float(box[3] - box[1]), 1.0)
        for track_id, last in self._last_seen.items():
            gone_for = now - last.time_s
            if track_id in exclude or gone_for <= 0 or gone_for > self.reentry_seconds:
                continue
            last_height = max(float(last.box[3] - last.box[1]), 1.0)
            if not 0.5 <= height / last_height <= 2.0:
                continue
            distance = float(np.hypot(*(centre - (last.box[:2] + last.box[2:]) / 2))) / last_height
            if distance <= best_distance:
                best_id, best_distance = track_id, distance
        if best_id >= 0:
            # The old ByteTrack track, if it ever comes back, must not claim the same id as well.
            self._public_id = {b: p for b, p in self._public_id.items() if p != best_id}
            return best_id
        self._next_id += 1
        return self._next_id - 1
