"""`Poses`: the one currency between pose backends, tracking, features and drawing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from har_core.skeleton import NUM_JOINTS


@dataclass
class Poses:
    """The people found in one frame, as parallel arrays (n = number of people).

    Attributes:
        keypoints: (n, 17, 3) float32, COCO-17 order, (x, y, score) with x, y in pixels of the
            original (rotation-corrected) frame and score in [0, 1].
        boxes: (n, 4) float32, (x1, y1, x2, y2) in pixels.
        scores: (n,) float32, person confidence in [0, 1].
        track_ids: (n,) int64, stable person id from the tracker; -1 before tracking.
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(-1, NUM_JOINTS, 3)
        n = len(self.keypoints)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(n, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n)
        if len(self.track_ids) != n:
            self.track_ids = np.full(n, -1, dtype=np.int64)
        self.track_ids = np.asarray(self.track_ids, dtype=np.int64).reshape(n)

    def __len__(self) -> int:
        return len(self.keypoints)

    @classmethod
    def empty(cls) -> Poses:
        """A frame with nobody in it."""
        return cls(np.zeros((0, NUM_JOINTS, 3)), np.zeros((0, 4)), np.zeros(0))

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Poses:
        """Select people by boolean mask or indices, keeping the arrays parallel."""
        return Poses(self.keypoints[index], self.boxes[index], self.scores[index], self.track_ids[index])
