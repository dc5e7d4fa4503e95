"""Pose estimation on every Nth frame, with the keypoints of the frames in between interpolated.

Pose estimation is three quarters of the pipeline's CPU time (bench/README.md), while people move little
in 1/30 s: at 30 fps, estimating every second frame still samples a 3 Hz clap five times per cycle. The
frames in between get the straight-line blend of the two estimated frames around them, per tracked
person, so tracking, features and the classifier still see one pose per video frame. The last frame of a
video is always estimated, so no frame is extrapolated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from har_core.auto_number import parse_auto_number
from har_core.poses import Poses
from har_core.video import DecodedFrame, Frame

MAX_POSE_EVERY = 4  # beyond this, pose rate at 30 fps (7.5 Hz) is too low for claps and punches
POSE_RATE_HZ = 15.0  # the automatic stride estimates poses about this often

F = TypeVar("F", Frame, DecodedFrame)


def auto_pose_every(fps: float) -> int:
    """The stride that estimates poses about 15 times a second: 2 at 24-30 fps, 4 at 60 fps, 1 below 22.5 fps.

    15 a second samples the fastest action in the training data (3 repetitions a second) five times per
    cycle. On the evaluation clips (30 fps) it labelled as many clips and frames right as estimating every
    frame did, 1.6-1.8 times faster (bench/README.md, `python -m bench.pose_stride`).
    """
    return int(min(MAX_POSE_EVERY, max(1, round(fps / POSE_RATE_HZ))))


def parse_pose_every(text: str) -> int | None:
    """A stride as typed on a command line (the CLI's and bench/run.py's `--pose-every`): "auto" (None, the
    automatic stride) or a whole number from 1 to MAX_POSE_EVERY.

    Raises:
        argparse.ArgumentTypeError: anything else, with a message that says what is accepted.
    """
    return parse_auto_number(text, "pose stride", f"1 to {MAX_POSE_EVERY}", lambda value: 1 <= value <= MAX_POSE_EVERY)


@dataclass
class StridedFrame(Generic[F]):
    """A frame to estimate poses on, and the frames before it (since the previous one) that are interpolated."""

    frame: F
    skipped: list[F] = field(default_factory=list)


def strided(frames: Iterator[F], every: int) -> Iterator[StridedFrame[F]]:
    """Every `every`-th frame (counting from the first) and the video's last frame, each with the frames skipped before it.

    Skipped frames are held until the next estimated frame arrives (at most `every - 1` of them), so the
    caller can place their interpolated poses in order.
    """
    skipped: list[F] = []
    for count, frame in enumerate(frames):
        if count % every == 0:
            yield StridedFrame(frame, skipped)
            skipped = []
        else:
            skipped.append(frame)
    if skipped:
        yield StridedFrame(skipped[-1], skipped[:-1])


def interpolate(before: Poses, after: Poses, fraction: float) -> Poses:
    """The poses `fraction` of the way from `before` to `after` (0 = before, 1 = after), matched by track id.

    Only people tracked in both frames are kept: someone who appears or disappears between two estimated
    frames has no pose to blend with, and guessing one would draw a skeleton nobody saw. Positions and boxes
    are blended linearly; joint and person scores take the lower of the two, so a joint missed in either
    frame stays below the drawing and feature thresholds instead of sliding in from nowhere.
    """
    common, rows_before, rows_after = np.intersect1d(before.track_ids, after.track_ids, return_indices=True)
    start, end = before.keypoints[rows_before], after.keypoints[rows_after]
    keypoints = np.empty_like(start)
    keypoints[..., :2] = (1.0 - fraction) * start[..., :2] + fraction * end[..., :2]
    keypoints[..., 2] = np.minimum(start[..., 2], end[..., 2])
    boxes = (1.0 - fraction) * before.boxes[rows_before] + fraction * after.boxes[rows_after]
    scores = np.minimum(before.scores[rows_before], after.scores[rows_after])
    return Poses(keypoints, boxes, scores, common.astype(np.int64))


def fill_between(before: Poses, after: Poses, before_index: int, after_index: int,
                 skipped: list[Frame] | list[DecodedFrame]) -> list[Poses]:
    """Interpolated poses for each skipped frame, placed by frame index between two estimated frames."""
    span = after_index - before_index
    return [interpolate(before, after, (frame.index - before_index) / span) for frame in skipped]
