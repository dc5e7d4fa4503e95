"""The one interface every pose backend implements, plus the checks they share.

A backend is a short class in the rtmlib style: it loads its model once in `__init__`, and
`__call__` runs `preprocess` → `inference` → `postprocess` on a batch of frames. Everything after
pose estimation only ever sees `Poses`, so adding a backend touches one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from har_core.errors import ModelError, VideoError
from har_core.poses import Poses

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class BackendInfo:
    """What produced the poses, for summary.json and the README (model, licence, where it ran)."""

    name: str
    model: str
    licence: str
    device: str
    input_size: int | None
    runtime: dict | None = None  # MoveNet: har_core.pose.movenet_runtime.RuntimeInfo as a dict


class PoseBackend(ABC):
    """A pose estimator: a batch of RGB uint8 frames (H, W, 3) in, one `Poses` per frame out.

    Keypoints and boxes come back in pixel coordinates of the frame that went in, whatever the
    model's own input resolution, so callers never undo a backend's resizing.
    """

    @property
    @abstractmethod
    def info(self) -> BackendInfo:
        """The backend's name, model, licence and the device it actually runs on."""

    @abstractmethod
    def __call__(self, frames: Sequence[np.ndarray]) -> list[Poses]:
        """Estimate poses for every frame of the batch, in order."""


def check_frame(frame: np.ndarray) -> np.ndarray:
    """Return `frame` if it is an RGB uint8 image; raise `VideoError` otherwise.

    Checked here because a wrong dtype or channel count would not fail inside the models: it would
    silently produce garbage keypoints.
    """
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise VideoError(f"pose estimation needs RGB uint8 frames of shape (H, W, 3), got {shape} {dtype}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise VideoError(f"pose estimation got an empty frame of shape {frame.shape}")
    return frame


def check_device(device: str) -> str:
    """Validate a device setting (`auto`, `cpu` or `cuda`) and return it lower-cased."""
    normalised = device.lower()
    if normalised not in DEVICES:
        raise ModelError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    return normalised
