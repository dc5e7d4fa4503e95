"""Fuzz the whole pipeline with mutated small videos: a result or a documented error, never a crash or a hang.

Forty seeded mutants (bit flips, cut-out bytes, swapped chunks) of four small person clips (H.264 in MP4
with the index last and first, H.264 in Matroska, MJPEG in AVI) each go through `pipeline.analyze` in a
worker process with a time limit. Every case must end in either a complete result (four files that load and
agree) or one of the errors users are told about (`DOCUMENTED`), with nothing left in the output's folder;
never an unhandled exception, a hang, a dead worker or a half-written folder.

Most cases use a stand-in pose backend that finds a person on every frame, so every decodable mutant
reaches the render pass and the data files (MoveNet would also be slow here); every fifth case runs the
real MoveNet, to show that damaged pictures reach it safely too.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from har_core import pipeline
from har_core.errors import HarError
from har_core.outputs import OUTPUT_FILES, load_results
from har_core.pipeline import AnalysisSettings
from har_core.pose import create_pose_backend
from har_core.pose.base import BackendInfo
from har_core.poses import Poses
from har_core.skeleton import NUM_JOINTS
from har_core.video import H264Writer, iter_frames
from tests.media import make_video
from tests.reliability_corpus import FAST_INPUT_SIZE, person_video

CASES = 40
SEED = 5
CASE_TIMEOUT_S = 60.0
"""Far above a case's ~1 s even on a loaded machine, far below what a hang would take."""
REAL_POSE_EVERY = 5
DOCUMENTED = {"VideoError", "TooShortError", "LimitError"}
"""What a damaged file may end in: unreadable, too few frames left, or a mangled header claiming a huge size."""
DOCUMENTED_WITH_REAL_POSE = DOCUMENTED | {"NoPersonError"}
"""Damaged pictures can also hide the person from MoveNet."""


class StandInBackend:
    """A pose backend that finds one person in the middle of every frame, whatever the frame's size."""

    info = BackendInfo(name="stand-in", model="none", licence="none", device="cpu", input_size=None)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, frames: list[np.ndarray]) -> list[Poses]:
        return [self._person(*frame.shape[:2]) for frame in frames]

    @staticmethod
    def _person(height: int, width: int) -> Poses:
        keypoints = np.zeros((1, NUM_JOINTS, 3), dtype=np.float32)
        keypoints[0, :, 0] = np.linspace(0.4, 0.6, NUM_JOINTS) * width
        keypoints[0, :, 1] = np.linspace(0.2, 0.9, NUM_JOINTS) * height
        keypoints[0, :, 2] = 0.9
        return Poses(keypoints, [[0.4 * width, 0.2 * height, 0.6 * width, 0.9 * height]], [0.9])


def analyse_in_worker(video: Path, out: Path, real_pose: bool) -> tuple[str, str]:
    """Worker-process body: ("ok", "") or (error class name, message); anything else is ("bug", traceback)."""
    pipeline.create_pose_backend = create_pose_backend if real_pose else StandInBackend
    try:
        pipeline.analyze(video, out, AnalysisSettings(input_size=FAST_INPUT_SIZE))
    except HarError as error:
        return type(error).__name__, str(error)
    except Exception:  # noqa: BLE001 - exactly what the fuzz test looks for
        return "bug", traceback.format_exc()
    return "ok", ""


@dataclass(frozen=True)
class Mutant:
    """One fuzz case: a damaged copy of a source clip, and how it was damaged."""

    path: Path
    description: str
    real_pose: bool


def _faststart_mp4(path: Path) -> None:
    """The person clip through H264Writer: an MP4 with its index first, as the pipeline writes them."""
    source = path.with_suffix(".source.avi")
    person_video(source, codec="mjpeg")
    with H264Writer(path, 30) as writer:
        for frame in iter_frames(source):
            writer.write(frame.image)


SOURCES: dict[str, Callable[[Path], object]] = {
    "index-last.mp4": person_video,
    "index-first.mp4": _faststart_mp4,
    "clip.mkv": person_video,
    "clip.avi": lambda path: person_video(path, codec="mjpeg"),
}


def _position(rng: np.random.Generator, size: int, length: int) -> int:
    """Where to damage: the first or last kilobyte (headers, index) as often as anywhere in the file."""
    region = rng.integers(3)
    if region == 0:
        return int(rng.integers(0, min(1024, size - length)))
    if region == 1:
        return int(rng.integers(max(0, size - 1024 - length), size - length))
    return int(rng.integers(0, size - length))


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Damage `data` one way: "flip" 1-8 bits, "cut" out 1-512 bytes, or "swap" two chunks of 16-1024 bytes."""
    buffer = bytearray(data)
    if kind == "flip":
        flips = int(rng.integers(1, 9))
        at = [_position(rng, len(buffer), 1) for _ in range(flips)]
        for offset in at:
            buffer[offset] ^= 1 << int(rng.integers(8))
        return bytes(buffer), f"{flips} bit flips at {at}"
    if kind == "cut":
        length = int(rng.integers(1, 513))
        start = _position(rng, len(buffer), length)
        del buffer[start : start + length]
        return bytes(buffer), f"{length} bytes cut at {start}"
    length = int(rng.integers(16, 1025))
    first, second = sorted(_position(rng, len(buffer), length) for _ in range(2))
    second = max(second, first + length)  # no overlap
    if second + length > len(buffer):
        first, second = 0, len(buffer) - length
    chunk = buffer[first : first + length]
    buffer[first : first + length] = buffer[second : second + length]
    buffer[second : second + length] = chunk
    return bytes(buffer), f"{length}-byte chunks at {first} and {second} swapped"


@pytest.fixture(scope="module")
def mutants(tmp_path_factory: pytest.TempPathFactory) -> list[Mutant]:
    folder = tmp_path_factory.mktemp("fuzz")
    sources = []
    for name, write in SOURCES.items():
        write(folder / name)
        sources.append(folder / name)
    rng = np.random.default_rng(SEED)
    cases = []
    for index in range(CASES):
        source = sources[index % len(sources)]
        data, how = mutate(source.read_bytes(), ("flip", "cut", "swap")[index % 3], rng)
        path = folder / f"case{index:02d}{source.suffix}"
        path.write_bytes(data)
        cases.append(Mutant(path, f"case {index} ({source.name}, {how})", index % REAL_POSE_EVERY == 0))
    return cases


def check_outcome(mutant: Mutant, out: Path, kind: str, message: str) -> str | None:
    """What is wrong with how a case ended, or None."""
    allowed = DOCUMENTED_WITH_REAL_POSE if mutant.real_pose else DOCUMENTED
    leftovers = sorted(p.name for p in out.parent.iterdir() if p != out)
    if leftovers:
        return f"{mutant.description}: left {leftovers} beside the output folder"
    if kind == "ok":
        if sorted(p.name for p in out.iterdir()) != sorted(OUTPUT_FILES):
            return f"{mutant.description}: incomplete result {sorted(p.name for p in out.iterdir())}"
        run = load_results(out)
        frames = run.summary["video"]["frames_decoded"]
        if run.summary["rows"]["annotated_frames"] != frames or run.frames["frame"].nunique() != frames:
            return f"{mutant.description}: data files disagree about the number of frames"
        return None
    if kind not in allowed:
        return f"{mutant.description}: {kind}: {message}"
    if out.exists():
        return f"{mutant.description}: {kind} but the output folder exists"
    if not message or "\n" in message:
        return f"{mutant.description}: {kind} without a one-line message: {message!r}"
    return None


def test_mutated_videos_end_in_a_result_or_a_documented_error(mutants: list[Mutant], tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or state from pytest
    problems, outcomes = [], []
    pool = context.Pool(processes=1)
    try:
        for index, mutant in enumerate(mutants):
            out = tmp_path / f"case{index:02d}" / "out"
            out.parent.mkdir()
            pending = pool.apply_async(analyse_in_worker, (mutant.path, out, mutant.real_pose))
            try:
                kind, message = pending.get(timeout=CASE_TIMEOUT_S)
            except multiprocessing.TimeoutError:
                problems.append(f"{mutant.description}: no answer within {CASE_TIMEOUT_S:.0f} s (hang or crash)")
                pool.terminate()
                pool = context.Pool(processes=1)
                continue
            outcomes.append(kind)
            if (problem := check_outcome(mutant, out, kind, message)) is not None:
                problems.append(problem)
    finally:
        pool.terminate()
        pool.join()
    assert problems == []
    # The mutants must exercise both endings, or the fuzzing says little.
    assert outcomes.count("ok") >= 5 and len(set(outcomes) - {"ok"}) >= 1, outcomes


def test_mutations_are_seeded_and_damage_the_file(tmp_path: Path) -> None:
    data = make_video(tmp_path / "clip.mp4", frames=8).read_bytes()
    for kind in ("flip", "cut", "swap"):
        first, how = mutate(data, kind, np.random.default_rng(1))
        again, how_again = mutate(data, kind, np.random.default_rng(1))
        assert first == again and how == how_again and first != data
        assert len(first) < len(data) if kind == "cut" else len(first) == len(data)
