"""`Motion`: the one currency between everything that makes 3D motion and everything that films it.

Mocap parsers and the procedural synthesiser return it; cameras, the pose-noise model and the figure
renderer consume it. Joints are COCO-17 (har_core.skeleton order) in metres, world frame x right,
y up, z towards the default camera, so a person at yaw 0 faces the camera and their left side is +x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from har_core.features import mirrored_joints
from har_core.skeleton import NUM_CLASSES, NUM_JOINTS


@dataclass
class Motion:
    """One person's 3D joint trajectories with a class label per frame.

    Attributes:
        joints: (T, 17, 3) float32 metres, COCO-17 order, world frame (x right, y up, z towards camera).
        fps: frames per second of `joints`.
        labels: (T,) int64 index into har_core.skeleton.CLASSES, one per frame (a clip may change action).
        source: where the motion came from: "procedural", "cmu", "hdm05", ... (kept per window so
            evaluation can split by source).
    """

    joints: np.ndarray
    fps: float
    labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        self.joints = np.asarray(self.joints, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.joints.ndim != 3 or self.joints.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"Motion joints must be (T, {NUM_JOINTS}, 3), got {self.joints.shape}")
        if self.labels.shape != (len(self.joints),):
            raise ValueError(f"Motion labels must be ({len(self.joints)},), got {self.labels.shape}")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= NUM_CLASSES):
            raise ValueError(f"Motion labels must lie in 0..{NUM_CLASSES - 1}")
        if not self.fps > 0:
            raise ValueError(f"Motion fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self) / self.fps

    def segment(self, start: int, stop: int) -> Motion:
        """Frames start..stop-1 as a new Motion (copies, so edits never leak back)."""
        return Motion(self.joints[start:stop].copy(), self.fps, self.labels[start:stop].copy(), self.source)

    def resample(self, fps: float, phase: float = 0.0) -> Motion:
        """The same motion sampled at another frame rate.

        Cameras film at 10-60 fps while mocap is 120 fps and the synthesiser works at its own rate;
        joints are interpolated linearly in time, labels taken from the nearest source frame.

        Args:
            fps: target frame rate.
            phase: where the first output sample falls, in target frames (0..1), so repeated
                resampling of one clip does not always hit the same source frames.
        """
        if not fps > 0:
            raise ValueError(f"target fps must be positive, got {fps}")
        last_time = (len(self) - 1) / self.fps
        n_out = int(np.floor(last_time * fps - phase + 1e-9)) + 1 if len(self) else 0
        if n_out <= 0:
            return Motion(np.zeros((0, NUM_JOINTS, 3)), fps, np.zeros(0, dtype=np.int64), self.source)
        src = (np.arange(n_out) + phase) * (self.fps / fps)
        src = np.clip(src, 0, len(self) - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, len(self) - 1)
        frac = (src - lo).astype(np.float32)[:, None, None]
        joints = self.joints[lo] * (1 - frac) + self.joints[hi] * frac
        labels = self.labels[np.clip(np.rint(src).astype(np.int64), 0, len(self) - 1)]
        return Motion(joints, fps, labels, self.source)

    def mirrored(self) -> Motion:
        """Left-right mirror image (x negated, left and right joints swapped): a left-handed performer."""
        return Motion(mirrored_joints(self.joints), self.fps, self.labels.copy(), self.source)


def concatenate(motions: Sequence[Motion], source: str | None = None) -> Motion:
    """Join motions end to end (same fps required); the source is the first one's unless given."""
    if not motions:
        raise ValueError("concatenate needs at least one Motion")
    fps = motions[0].fps
    if any(abs(m.fps - fps) > 1e-6 for m in motions):
        raise ValueError("concatenate needs motions with the same fps; resample first")
    return Motion(
        np.concatenate([m.joints for m in motions]),
        fps,
        np.concatenate([m.labels for m in motions]),
        source if source is not None else motions[0].source,
    )


# Face landmarks relative to the base of the skull, in the head's frame (x left, y up, z forwards), for a
# 1.75 m adult. Neither mocap nor the body model has a face, so both place these rigidly on the head.
FACE_OFFSETS = np.array(
    [
        [0.0, 0.045, 0.105],  # nose
        [0.032, 0.075, 0.085],  # left eye
        [-0.032, 0.075, 0.085],  # right eye
        [0.075, 0.06, 0.0],  # left ear
        [-0.075, 0.06, 0.0],  # right ear
    ]
)


def face_points(skull: np.ndarray, head_rotation: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(T, 3) skull-base points and (T, 3, 3) head rotations -> (T, 5, 3) nose, eyes, ears (COCO order)."""
    return skull[:, None, :] + scale * np.einsum("tij,kj->tki", head_rotation, FACE_OFFSETS)
