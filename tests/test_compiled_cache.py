"""OpenVINO's compiled MoveNet in the user's cache: imported instead of compiled, with the same output; a damaged
or foreign blob compiled again; the folder bounded; a cache that cannot be written never fails a run."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import ModelError
from har_core.pose import movenet_runtime
from har_core.pose.compiled_cache import CompiledModelCache
from har_core.pose.movenet import load_movenet_bytes
from har_core.pose.movenet_runtime import OpenVINORuntime, Weights
from har_core.video import iter_frames

SAMPLE = Path(__file__).resolve().parent.parent / "har_core" / "data" / "sample.mp4"


@pytest.fixture(scope="module")
def weights() -> bytes:
    return load_movenet_bytes()


@pytest.fixture(scope="module")
def tensor() -> np.ndarray:
    """A real frame of the sample video at MoveNet's 256-px input, letterboxed to 192 x 256."""
    image = next(itertools.islice(iter_frames(SAMPLE, 256), 20, None)).image
    padded = np.zeros((1, 192, 256, 3), dtype=np.uint8)
    padded[0, : image.shape[0], : image.shape[1]] = image
    return padded


def _blobs(cache: Path) -> list[Path]:
    return sorted((cache / "openvino").glob("movenet-*.blob"))


def _graph_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading the .tflite fail, so a runtime that works must have imported its compiled model."""

    def refuse(*_: object) -> None:
        raise ModelError("the graph was read")

    monkeypatch.setattr(movenet_runtime, "read_tflite", refuse)


def test_second_runtime_imports_the_compiled_model_and_gives_the_same_bits(
        tmp_path: Path, weights: bytes, tensor: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor)
    assert len(_blobs(tmp_path)) == 1
    _graph_never_read(monkeypatch)
    imported = OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor)
    assert np.array_equal(compiled, imported)
    assert compiled[0, 55] > 0.2  # the sample's person was found: a real output, not zeros


def test_a_cached_model_needs_no_weights_read(tmp_path: Path, weights: bytes, tensor: np.ndarray) -> None:
    expected = OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor)

    def refuse() -> bytes:
        raise ModelError("the weights were read")

    known = Weights(hashlib.sha256(weights).hexdigest(), refuse)
    assert np.array_equal(OpenVINORuntime(known, cache_dir=tmp_path).infer(tensor), expected)
    with pytest.raises(ModelError, match="the weights were read"):  # a shape not compiled yet needs them
        OpenVINORuntime(known, cache_dir=tmp_path).infer(np.zeros((1, 64, 64, 3), dtype=np.uint8))


def test_each_setting_and_shape_has_its_own_compiled_model(tmp_path: Path, weights: bytes) -> None:
    OpenVINORuntime(weights, cache_dir=tmp_path).infer(np.zeros((1, 64, 96, 3), dtype=np.uint8))
    OpenVINORuntime(weights, cache_dir=tmp_path).infer(np.zeros((1, 96, 64, 3), dtype=np.uint8))
    OpenVINORuntime(weights, workers=2, cache_dir=tmp_path).infer(np.zeros((1, 96, 64, 3), dtype=np.uint8))
    OpenVINORuntime(weights, precision="f32", cache_dir=tmp_path).infer(np.zeros((1, 96, 64, 3), dtype=np.uint8))
    assert len(_blobs(tmp_path)) == 4


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "foreign blob"])
def test_a_damaged_blob_is_compiled_again_and_replaced(
        tmp_path: Path, weights: bytes, tensor: np.ndarray, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor)
    [blob] = _blobs(tmp_path)
    good = blob.read_bytes()
    if damage == "flipped byte":
        middle = len(good) // 2
        blob.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :])
    elif damage == "truncated":
        blob.write_bytes(good[:1000])
    else:  # a correct checksum over bytes OpenVINO cannot import
        junk = b"not an OpenVINO blob" * 100
        blob.write_bytes(hashlib.sha256(junk).digest() + junk)
    damaged = blob.read_bytes()
    assert np.array_equal(OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor), expected)
    assert _blobs(tmp_path) == [blob] and blob.read_bytes() != damaged  # compiled again and stored anew
    _graph_never_read(monkeypatch)
    assert np.array_equal(OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor), expected)


def test_the_cache_keeps_only_the_most_recently_used_blobs(tmp_path: Path, weights: bytes) -> None:
    shapes = [(1, 64, 64, 3), (1, 64, 96, 3), (1, 96, 64, 3)]
    for shape in shapes:
        OpenVINORuntime(weights, cache_dir=tmp_path).infer(np.zeros(shape, dtype=np.uint8))
    assert len(_blobs(tmp_path)) == 3
    first = OpenVINORuntime(weights, cache_dir=tmp_path)
    first.infer(np.zeros(shapes[0], dtype=np.uint8))  # used again: now the most recent
    cache = CompiledModelCache(tmp_path / "openvino", max_blobs=2)
    cache.prune()
    kept = _blobs(tmp_path)
    assert len(kept) == 2
    again = OpenVINORuntime(weights, cache_dir=tmp_path)
    again.infer(np.zeros(shapes[0], dtype=np.uint8))
    assert _blobs(tmp_path) == kept  # the first shape's blob survived the pruning and was used


def test_a_blob_folder_that_cannot_be_written_does_not_fail_the_run(
        tmp_path: Path, weights: bytes, tensor: np.ndarray) -> None:
    (tmp_path / "openvino").write_text("a file where the folder would be")
    assert OpenVINORuntime(weights, cache_dir=tmp_path).infer(tensor).shape == (6, 56)
    assert [path.name for path in tmp_path.iterdir()] == ["openvino"]  # no .tflite left behind either
