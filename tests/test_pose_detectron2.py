"""Detectron2 backend without detectron2: the adapter and the batching path run against a stand-in.

No detectron2 build installs from PyPI for Python 3.11, so the stand-in reproduces what the real
GeneralizedRCNN does at its boundary: a list of {"image": uint8 CHW tensor, "height", "width"} in,
a list of {"instances": ...} out with keypoints, boxes and scores in each input's original pixels.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from har_core.errors import ModelError
from har_core.features import KEYPOINT_THRESHOLD
from har_core.pose import create_pose_backend
from har_core.pose.detectron2 import (
    DETECTRON2_VISIBLE,
    MISSING_MESSAGE,
    Detectron2Backend,
    instances_to_poses,
    keypoint_confidence,
)


def standin_instances(keypoints: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> SimpleNamespace:
    """An object shaped like detectron2.structures.Instances after keypoint inference."""
    return SimpleNamespace(
        pred_keypoints=torch.as_tensor(keypoints, dtype=torch.float32),
        pred_boxes=SimpleNamespace(tensor=torch.as_tensor(boxes, dtype=torch.float32)),
        scores=torch.as_tensor(scores, dtype=torch.float32),
    )


class StandInRCNN:
    """Finds two people per image, placed relative to each input's original height and width."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []
        self.grad_enabled: list[bool] = []

    def __call__(self, inputs: list[dict]) -> list[dict]:
        self.calls.append(inputs)
        self.grad_enabled.append(torch.is_grad_enabled())
        outputs = []
        for item in inputs:
            h, w = item["height"], item["width"]
            keypoints = np.zeros((2, 17, 3), dtype=np.float32)
            keypoints[0, :, 0], keypoints[0, :, 1], keypoints[0, :, 2] = w * 0.25, np.linspace(0.2, 0.9, 17) * h, 3.0
            keypoints[1, :, 0], keypoints[1, :, 1], keypoints[1, :, 2] = w * 0.75, np.linspace(0.3, 0.8, 17) * h, 0.01
            boxes = np.array([[0.15 * w, 0.15 * h, 0.35 * w, 0.95 * h], [0.65 * w, 0.25 * h, 0.85 * w, 0.85 * h]])
            outputs.append({"instances": standin_instances(keypoints, boxes, np.array([0.98, 0.3]))})
        return outputs


def test_adapter_converts_instances_to_poses() -> None:
    keypoints = np.random.default_rng(0).uniform(0, 400, (3, 17, 3)).astype(np.float32)
    keypoints[..., 2] = [[0.0] * 17, [DETECTRON2_VISIBLE] * 17, [4.0] * 17]
    boxes = np.array([[10, 20, 110, 320], [200, 30, 260, 200], [300, 10, 390, 380]], dtype=np.float32)
    poses = instances_to_poses(standin_instances(keypoints, boxes, np.array([0.99, 0.7, 0.55])))
    assert len(poses) == 3 and poses.keypoints.dtype == np.float32
    np.testing.assert_allclose(poses.keypoints[..., :2], keypoints[..., :2])
    np.testing.assert_allclose(poses.boxes, boxes)
    np.testing.assert_allclose(poses.scores, [0.99, 0.7, 0.55], rtol=1e-6)
    np.testing.assert_allclose(poses.keypoints[:, 0, 2], [0.0, KEYPOINT_THRESHOLD, 4.0 / 4.15], rtol=1e-5)
    assert (poses.track_ids == -1).all()


def test_adapter_handles_no_people_and_models_without_keypoints() -> None:
    empty = instances_to_poses(standin_instances(np.zeros((0, 17, 3)), np.zeros((0, 4)), np.zeros(0)))
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 3)
    boxes_only = SimpleNamespace(pred_boxes=SimpleNamespace(tensor=torch.zeros(1, 4)), scores=torch.ones(1))
    with pytest.raises(ModelError, match="no keypoints"):
        instances_to_poses(boxes_only)


def test_keypoint_confidence_is_monotonic_in_0_1_and_keeps_detectron2_visibility() -> None:
    raw = np.array([-1.0, 0.0, 0.01, DETECTRON2_VISIBLE, 0.2, 1.0, 5.3, 50.0, np.nan])
    mapped = keypoint_confidence(raw)
    assert np.all((mapped >= 0) & (mapped < 1))
    assert np.all(np.diff(mapped[1:-1]) > 0)
    assert mapped[0] == mapped[1] == mapped[-1] == 0.0
    assert mapped[3] == pytest.approx(KEYPOINT_THRESHOLD)
    # Detectron2's "visible" and ours agree on either side of its threshold.
    assert (mapped[1:-1] >= KEYPOINT_THRESHOLD).tolist() == (raw[1:-1] >= DETECTRON2_VISIBLE).tolist()


def test_backend_batches_frames_into_one_model_call() -> None:
    model = StandInRCNN()
    backend = Detectron2Backend(model, device="cpu", min_size=200, max_size=300, person_threshold=0.5)
    red = np.zeros((120, 160, 3), dtype=np.uint8)
    red[..., 0] = 255
    tall = np.zeros((400, 100, 3), dtype=np.uint8)
    results = backend([red, tall, red])
    assert len(model.calls) == 1 and model.grad_enabled == [False]
    images = [item["image"] for item in model.calls[0]]
    assert images[0].dtype == torch.uint8
    assert tuple(images[0].shape) == (3, 200, 267)  # shorter side to min_size
    assert tuple(images[1].shape) == (3, 300, 75)  # longer side capped at max_size
    assert images[0][2].float().mean() == 255 and images[0][0].float().mean() == 0  # RGB in, BGR to the model
    assert [(item["height"], item["width"]) for item in model.calls[0]] == [(120, 160), (400, 100), (120, 160)]
    assert [len(poses) for poses in results] == [1, 1, 1]  # the 0.3-score person is dropped
    np.testing.assert_allclose(results[1].keypoints[0, :, 0], 25.0)
    np.testing.assert_allclose(results[1].boxes[0], [15, 60, 35, 380], rtol=1e-6)
    assert results[0].keypoints[0, 0, 2] > 0.9
    assert backend([]) == [] and len(model.calls) == 1
    assert backend.info.name == "detectron2" and backend.info.device == "cpu"


def test_asking_for_detectron2_without_it_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "detectron2", None)  # makes `import detectron2` fail even if installed
    with pytest.raises(ModelError) as caught:
        create_pose_backend("detectron2", device="cpu")
    assert str(caught.value) == MISSING_MESSAGE
    assert "see README" in str(caught.value)
