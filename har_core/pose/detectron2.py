"""Detectron2 Keypoint R-CNN R50-FPN 3x: the original app's pose model, for GPU machines.

Used only when `detectron2` is importable; no working build installs from PyPI for Python 3.11, so
users build it from source (see README). The model is built with `build_model` and loaded with
`DetectionCheckpointer` rather than through `DefaultPredictor`, because the predictor takes one
image per call while the model itself accepts a list: batching is what makes the GPU pay off.

Weights are the model zoo's checkpoint for `COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml`
(Detectron2 downloads and caches it on first use) or a local file given as `weights`. Detectron2's own
checkpointer unpickles `.pkl` files, which can run code, so weights never go through it: `.safetensors`
load with safetensors, `.pth`/`.pt` with `torch.load(weights_only=True)`, and the model zoo's `.pkl`
format (a pickled dict of NumPy arrays) with an unpickler that only rebuilds arrays. Anything else in a
weights file is refused with a ModelError.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from har_core.errors import ModelError
from har_core.features import KEYPOINT_THRESHOLD
from har_core.pose.base import BackendInfo, PoseBackend, check_device, check_frame
from har_core.poses import Poses
from har_core.skeleton import NUM_JOINTS

CONFIG = "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"
MODEL_NAME = "Detectron2 Keypoint R-CNN R50-FPN 3x"
MODEL_LICENCE = "Apache-2.0"
MISSING_MESSAGE = "pose backend 'detectron2' needs the detectron2 package: see README"
DEFAULT_PERSON_THRESHOLD = 0.5
# Detectron2's Visualizer treats keypoints scoring above 0.05 as visible (utils/visualizer.py).
DETECTRON2_VISIBLE = 0.05


class InstancesLike(Protocol):
    """The fields of detectron2.structures.Instances that the adapter reads (tensors on any device)."""

    pred_keypoints: torch.Tensor
    pred_boxes: Any  # detectron2.structures.Boxes: `.tensor` is (n, 4) x1, y1, x2, y2
    scores: torch.Tensor


def keypoint_confidence(scores: np.ndarray) -> np.ndarray:
    """Map Detectron2 keypoint scores onto 0..1 so that its own visibility threshold becomes ours.

    Detectron2's keypoint "scores" are not probabilities: each is the peak of the heatmap's spatial
    softmax computed on the box-sized upsampled map but normalised by the sum over the 56 x 56
    heatmap, so they are positive and unbounded (values of 1-5 are common for clear joints; see
    facebookresearch/detectron2 issues 4359 and 4422), and Detectron2 itself calls a joint visible
    above 0.05. The saturating map s / (s + k) keeps their order, sends 0 to 0 and large values
    towards 1, and k is chosen so that 0.05 lands exactly on `KEYPOINT_THRESHOLD`, the visibility
    cut the feature function applies to every backend.
    """
    half = DETECTRON2_VISIBLE * (1.0 - KEYPOINT_THRESHOLD) / KEYPOINT_THRESHOLD
    positive = np.maximum(np.nan_to_num(np.asarray(scores, dtype=np.float32)), 0.0)
    return positive / (positive + half)


def _numpy(tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().to("cpu", torch.float32).numpy()
    return np.asarray(tensor, dtype=np.float32)


def instances_to_poses(instances: InstancesLike) -> Poses:
    """Convert one image's Detectron2 `Instances` (already in that image's pixels) to `Poses`.

    Raises:
        ModelError: the instances carry no keypoints (a detector without a keypoint head).
    """
    if not hasattr(instances, "pred_keypoints"):
        raise ModelError("the Detectron2 model returned no keypoints: use a COCO-Keypoints configuration")
    keypoints = _numpy(instances.pred_keypoints).reshape(-1, NUM_JOINTS, 3).copy()
    keypoints[..., 2] = keypoint_confidence(keypoints[..., 2])
    boxes = _numpy(instances.pred_boxes.tensor)
    scores = np.clip(_numpy(instances.scores), 0.0, 1.0)
    return Poses(keypoints=keypoints, boxes=boxes, scores=scores)


def _import_detectron2() -> Any:
    """Import detectron2's pieces or raise the message users see when it is not installed."""
    try:
        from detectron2 import model_zoo
        from detectron2.config import get_cfg
        from detectron2.modeling import build_model
    except (ImportError, OSError) as error:  # OSError: a build whose compiled ops do not match torch
        raise ModelError(MISSING_MESSAGE) from error
    return model_zoo, get_cfg, build_model


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what a model-zoo `.pkl` holds: dicts, strings, numbers and NumPy arrays."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: weights files may hold only arrays")
        return super().find_class(module, name)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `path` through a loader that cannot run code, or a ModelError saying why not."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            data: Any = load_file(path)
        elif suffix in (".pth", ".pt"):
            data = torch.load(path, map_location="cpu", weights_only=True)
        elif suffix == ".pkl":
            with path.open("rb") as handle:
                data = _ArrayUnpickler(handle, encoding="latin1").load()
        else:
            raise ModelError(f"Detectron2 weights must be .safetensors, .pth or .pkl, not {path.name}.")
        state = data.get("model", data) if isinstance(data, dict) else None
        if not isinstance(state, dict):
            raise ModelError(f"Detectron2 weights in {path.name} hold no state dict.")
        return {key: torch.as_tensor(value) for key, value in state.items() if not key.startswith("__")}
    except ModelError:
        raise
    except Exception as error:  # any loader failure means: not weights we accept
        raise ModelError(f"Refusing the Detectron2 weights {path.name}: {error}") from error


def _model_zoo_weights(model_zoo: Any) -> Path:
    """The model zoo's checkpoint, downloaded and cached by Detectron2's file manager on first use."""
    from detectron2.utils.file_io import PathManager

    try:
        return Path(PathManager.get_local_path(model_zoo.get_checkpoint_url(CONFIG)))
    except OSError as error:
        raise ModelError(f"The Detectron2 model zoo weights could not be downloaded: {error}") from error


def resolve_torch_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is usable, else `cpu`; an explicit `cuda` without a GPU is an error."""
    device = check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was requested but no CUDA GPU is available: use --device cpu or auto")
    return device


class Detectron2Backend(PoseBackend):
    """Keypoint R-CNN on a batch of frames in one model call.

    Build it with `Detectron2Backend.load(...)`; the constructor takes an already built model so that
    tests can pass a stand-in with Detectron2's input and output shapes.

    Args:
        model: a Detectron2 GeneralizedRCNN (or stand-in) in eval mode: list of dicts in, list of
            {"instances": Instances} out, in the pixels of each dict's "height" and "width".
        device: the device the model lives on (`cpu` or `cuda`).
        input_format: channel order the model expects (`BGR` for the model zoo's weights).
        min_size, max_size: test-time resize of the shorter side, capped on the longer side.
        person_threshold: people whose detection score is below this are dropped.
    """

    def __init__(
        self,
        model: Any,
        device: str,
        input_format: str = "BGR",
        min_size: int = 800,
        max_size: int = 1333,
        person_threshold: float = DEFAULT_PERSON_THRESHOLD,
    ) -> None:
        self.model = model
        self.device = device
        self.input_format = input_format
        self.min_size = min_size
        self.max_size = max_size
        self.person_threshold = person_threshold

    @classmethod
    def load(
        cls,
        device: str = "auto",
        weights: str | Path | None = None,
        person_threshold: float = DEFAULT_PERSON_THRESHOLD,
    ) -> Detectron2Backend:
        """Build Keypoint R-CNN R50-FPN 3x from the model zoo config with model-zoo or local weights."""
        model_zoo, get_cfg, build_model = _import_detectron2()
        device = resolve_torch_device(device)
        cfg = get_cfg()
        cfg.merge_from_file(model_zoo.get_config_file(CONFIG))
        if weights is not None and not Path(weights).is_file():
            raise ModelError(f"Detectron2 weights not found: {weights}")
        state = load_weights(Path(weights) if weights is not None else _model_zoo_weights(model_zoo))
        cfg.MODEL.DEVICE = device
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = person_threshold
        model = build_model(cfg)
        try:
            missing = model.load_state_dict(state, strict=False).missing_keys
        except RuntimeError as error:  # shape mismatch: weights for another architecture
            raise ModelError(f"Detectron2 weights do not fit {MODEL_NAME}: {error}") from error
        if missing:
            raise ModelError(f"Detectron2 weights lack {len(missing)} of the model's tensors ({missing[0]}, ...).")
        model.to(device).eval()
        return cls(model, device, input_format=cfg.INPUT.FORMAT, min_size=cfg.INPUT.MIN_SIZE_TEST,
                   max_size=cfg.INPUT.MAX_SIZE_TEST, person_threshold=person_threshold)

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(name="detectron2", model=MODEL_NAME, licence=MODEL_LICENCE, device=self.device,
                           input_size=self.min_size)

    def preprocess(self, frames: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Resize each frame as Detectron2's test-time augmentation does and wrap it as a model input."""
        inputs = []
        for frame in frames:
            height, width = check_frame(frame).shape[:2]
            scale = self.min_size / min(height, width)
            if max(height, width) * scale > self.max_size:
                scale = self.max_size / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
            if self.input_format == "BGR":
                image = image[:, :, ::-1]
            # uint8 CHW: the model normalises on its own device, so only a quarter of the bytes travel.
            tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
            inputs.append({"image": tensor, "height": height, "width": width})
        return inputs

    def inference(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One forward pass for the whole batch."""
        with torch.no_grad():
            return self.model(inputs)

    def postprocess(self, outputs: list[dict[str, Any]]) -> list[Poses]:
        """Convert each image's instances and drop people below the person threshold."""
        results = []
        for output in outputs:
            poses = instances_to_poses(output["instances"])
            results.append(poses[poses.scores >= self.person_threshold])
        return results

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Poses]:
        if not frames:
            return []
        return self.postprocess(self.inference(self.preprocess(frames)))
