"""MoveNet on OpenVINO against LiteRT: the same keypoints on drawn figures and on the sample video, a frame's
result independent of its batch and worker, and the runtime's settings and errors.

LiteRT is the reference: it is what MoveNet shipped with, and both runtimes read the same verified bytes.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import ModelError
from har_core.pose.movenet import MoveNetBackend, load_movenet_bytes
from har_core.pose.movenet_runtime import OpenVINORuntime, create_runtime
from har_core.poses import Poses
from har_core.video import iter_frames
from tests.test_pose_movenet import mean_limb_error, scene

SAMPLE = Path(__file__).resolve().parent.parent / "har_core" / "data" / "sample.mp4"


@dataclass(frozen=True)
class Tolerance:
    """How far OpenVINO's keypoints may be from LiteRT's: any joint (`worst`) and the median, as fractions of
    the model input's side (256 px here), and person or joint scores."""

    worst: float
    median: float
    score: float


# f32 on both sides: measured below 1e-5 of the input; these bounds leave room for other CPUs' kernels.
F32 = Tolerance(worst=0.002, median=0.001, score=0.01)
# The default precision: bf16 on CPUs with bf16 instructions (on this project's AVX512-BF16 machine the
# worst joint over the sample moved 2.7 px of 256, the median 0.5 px, joint scores up to 0.08), f32 elsewhere.
AUTO = Tolerance(worst=0.02, median=0.005, score=0.12)
CONFIGS = {"openvino-f32": ("openvino", "f32", F32), "openvino": ("openvino", "auto", AUTO)}
INPUT_SIZE = 256


@pytest.fixture(scope="module")
def backends() -> dict[str, MoveNetBackend]:
    built = {name: MoveNetBackend(input_size=INPUT_SIZE, num_threads=1, runtime=runtime, precision=precision,
                                  workers=2) for name, (runtime, precision, _) in CONFIGS.items()}
    return built | {"litert": MoveNetBackend(input_size=INPUT_SIZE, num_threads=1, runtime="litert", workers=2)}


def assert_same_people(found: list[Poses], reference: list[Poses], frame_side: int, tolerance: Tolerance) -> None:
    """The same people in the same order in every frame, keypoints and boxes within `tolerance`."""
    assert [len(poses) for poses in found] == [len(poses) for poses in reference]
    px = frame_side  # the input's side is the frame's longer side, so fractions of one are fractions of the other
    moved = np.concatenate([np.linalg.norm(f.keypoints[..., :2] - r.keypoints[..., :2], axis=-1).ravel()
                            for f, r in zip(found, reference, strict=True)])
    assert moved.max() <= tolerance.worst * px and np.median(moved) <= tolerance.median * px
    for mine, theirs in zip(found, reference, strict=True):
        np.testing.assert_allclose(mine.boxes, theirs.boxes, atol=tolerance.worst * px)
        np.testing.assert_allclose(mine.keypoints[..., 2], theirs.keypoints[..., 2], atol=tolerance.score)
        np.testing.assert_allclose(mine.scores, theirs.scores, atol=tolerance.score)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize(
    ("width", "height", "figures"),
    [
        (640, 480, [("standing", 320, 60, 380)]),
        (480, 640, [("arms_up", 240, 160, 400)]),
        (640, 480, [("standing", 170, 100, 330), ("arms_up", 470, 110, 320)]),
    ],
)
def test_openvino_finds_what_litert_finds_on_drawn_figures(backends, config, width, height, figures) -> None:
    image, truth = scene(width, height, figures)
    found = backends[config]([image])
    assert len(found[0]) == len(figures)
    assert_same_people(found, backends["litert"]([image]), max(width, height), CONFIGS[config][2])
    order = np.argsort(found[0].keypoints[:, :, 0].mean(axis=1))
    for index, joints in zip(order, truth, strict=True):
        assert mean_limb_error(found[0].keypoints[index], joints) < 25.0


@pytest.mark.parametrize("config", list(CONFIGS))
def test_openvino_finds_what_litert_finds_on_the_sample_video(backends, config) -> None:
    frames = [frame.image for frame in itertools.islice(iter_frames(SAMPLE, INPUT_SIZE), 0, 90, 6)]
    reference = backends["litert"](frames)
    assert sum(len(poses) for poses in reference) >= len(frames)  # the sample has people in every frame
    assert_same_people(backends[config](frames), reference, max(frames[0].shape[:2]), CONFIGS[config][2])


@pytest.mark.parametrize("config", ["litert", *CONFIGS])
def test_a_frames_keypoints_do_not_depend_on_its_batch_or_worker(backends, config) -> None:
    backend = backends[config]
    frames = [frame.image for frame in itertools.islice(iter_frames(SAMPLE, 256), 0, 40, 5)]
    alone = [backend([frame])[0] for frame in frames]
    batched = backend(frames[::-1])[::-1]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two workers at once, frames split between them unevenly
        parallel = list(pool.map(lambda frame: backend([frame])[0], frames))
    for one, two, three in zip(alone, batched, parallel, strict=True):
        for other in (two, three):
            assert np.array_equal(one.keypoints, other.keypoints) and np.array_equal(one.boxes, other.boxes)


def test_openvino_keypoints_do_not_depend_on_its_thread_settings(backends) -> None:
    """Two frames at once on one thread each (the pipeline on 2 cores) or one frame on two threads: same bits."""
    frames = [frame.image for frame in itertools.islice(iter_frames(SAMPLE, INPUT_SIZE), 0, 30, 10)]
    one_worker = MoveNetBackend(input_size=INPUT_SIZE, num_threads=2, runtime="openvino", workers=1)
    for mine, theirs in zip(one_worker(frames), backends["openvino"](frames), strict=True):
        assert np.array_equal(mine.keypoints, theirs.keypoints)


def test_runtime_settings_are_reported(backends) -> None:
    openvino = backends["openvino"].info.runtime
    assert openvino["name"] == "openvino" and openvino["version"].startswith("2026.4")
    assert (openvino["workers"], openvino["threads"], openvino["hint"]) == (2, 1, "THROUGHPUT")
    assert openvino["precision"] in ("f32", "bf16")  # the plugin's choice for this CPU, on record
    assert backends["openvino-f32"].info.runtime["precision"] == "f32"
    litert = backends["litert"].info.runtime
    assert (litert["name"], litert["workers"], litert["threads"], litert["hint"]) == ("litert", 2, 1, "")
    single = create_runtime("openvino", load_movenet_bytes(), workers=1, threads=2).info
    assert (single.hint, single.threads) == ("LATENCY", 2)


def test_openvino_leaves_no_copy_of_the_weights_behind(tmp_path: Path) -> None:
    runtime = OpenVINORuntime(load_movenet_bytes(), cache_dir=tmp_path / "cache")
    assert runtime.infer(np.zeros((1, 192, 256, 3), dtype=np.uint8)).shape == (6, 56)  # the graph is in memory
    left = [path.relative_to(tmp_path / "cache") for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    assert [path.parent.name for path in left] == ["openvino"]  # only the compiled model, no .tflite
    assert left[0].suffix == ".blob"


def test_unwritable_cache_is_a_clear_model_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    runtime = OpenVINORuntime(load_movenet_bytes(), cache_dir=blocked / "cache")  # nothing is read yet
    with pytest.raises(ModelError, match="writable cache folder.*--pose-runtime litert"):
        runtime.infer(np.zeros((1, 192, 256, 3), dtype=np.uint8))


def test_unknown_runtime_and_bad_parallelism_are_refused() -> None:
    with pytest.raises(ModelError, match="unknown MoveNet runtime 'onnx'"):
        MoveNetBackend(runtime="onnx")
    with pytest.raises(ModelError, match="at least one worker and one thread"):
        create_runtime("litert", b"", workers=0)

