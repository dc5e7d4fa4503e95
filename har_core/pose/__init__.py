"""Pose estimation behind one interface: `create_pose_backend(name)` returns a `PoseBackend`.

Backends are imported only when asked for, so that MoveNet users never pay for importing torch and
Detectron2 is optional.
"""

from __future__ import annotations

from typing import Any

from har_core.errors import ModelError
from har_core.pose.base import BackendInfo, PoseBackend
from har_core.pose.movenet_runtime import RUNTIMES

BACKENDS: tuple[str, ...] = ("movenet", "detectron2")

__all__ = ["BACKENDS", "RUNTIMES", "BackendInfo", "PoseBackend", "create_pose_backend"]


def create_pose_backend(name: str, input_size: int = 256, device: str = "auto", **options: Any) -> PoseBackend:
    """Load the named pose backend once; call the result with a list of RGB frames.

    Args:
        name: `movenet` (default, CPU, ships with the install) or `detectron2` (needs detectron2).
        input_size: MoveNet's input size (longer side, multiple of 32). Detectron2 ignores it and
            resizes as its model zoo config says (shorter side 800).
        device: `auto`, `cpu` or `cuda`. MoveNet always runs on the CPU.
        options: backend specific: MoveNet `person_threshold`, `num_threads` (per frame), `runtime`
            (`openvino` or `litert`), `workers` (frames at once); Detectron2
            `weights` (local checkpoint path), `person_threshold`.
    Raises:
        ModelError: unknown backend name, backend not installed, weights missing or invalid settings.
    """
    if name == "movenet":
        from har_core.pose.movenet import MoveNetBackend

        return MoveNetBackend(input_size=input_size, device=device, **options)
    if name == "detectron2":
        from har_core.pose.detectron2 import Detectron2Backend

        return Detectron2Backend.load(device=device, **options)
    raise ModelError(f"unknown pose backend {name!r}: choose one of {', '.join(BACKENDS)}")
