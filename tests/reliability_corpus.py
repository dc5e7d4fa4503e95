"""The bad-input corpus of issue 5: every awkward file the reliability tests feed to the CLI and to `analyze`.

Users upload whatever they have, so the corpus covers files that are not videos at all, videos that are
broken, and valid videos that are awkward (8K, a thin strip, odd sizes, variable frame rate, rotated,
crowded, someone walking out and back). Everything is generated here, from `tests/media.py` (synthetic
pictures and broken files) and `models/synth/scenes.py` (rendered figures whose keypoints are known), so
nothing is downloaded and each file is small enough that the whole corpus runs in seconds.

Each `Case` says what the pipeline must do with its file: raise a given `HarError` whose one-line message
contains given words, or produce a (possibly degraded) result. docs/reliability.md lists the cases with
what the user sees. To look at the files yourself (in the dashboard, say)::

    python -m tests.reliability_corpus /tmp/corpus
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from har_core.errors import HarError, NoPersonError, TooShortError, VideoError
from har_core.skeleton import CLASS_INDEX, JOINT_INDEX, JOINT_NAMES
from har_core.video import H264Writer
from models.synth.motion import Motion
from models.synth.scenes import PersonSpec, SceneTruth, group_camera, render_scene, write_scene_video
from tests.media import (
    make_video,
    write_audio_only,
    write_empty,
    write_png,
    write_random,
    write_text,
    write_truncated,
    write_zero_frames,
)

FPS = 30.0
CLIP_SIZE = (160, 120)
CLIP_FRAMES = 36
"""A person clip: just over one 32-frame window, so every case gets a prediction and stays cheap."""

FAST_INPUT_SIZE = 128
"""MoveNet input for the person clips: 3x faster than the default 256 and still finds a 100-pixel figure on
every frame; nothing these cases check (timestamps, rotation, sizes, folders) depends on it."""

CROWD_INPUT_SIZE = 320
"""The crowd's figures are small: at 320 MoveNet fills all six of its slots and most score high enough to track."""

# A person standing (metres, facing the camera, left side +x) with the right forearm waving above the head.
_STANDING = {
    "nose": (0, 1.62, 0.08), "left_eye": (0.03, 1.66, 0.06), "right_eye": (-0.03, 1.66, 0.06),
    "left_ear": (0.07, 1.64, 0), "right_ear": (-0.07, 1.64, 0), "left_shoulder": (0.18, 1.43, 0),
    "right_shoulder": (-0.18, 1.43, 0), "left_elbow": (0.22, 1.15, 0), "right_elbow": (-0.4, 1.6, 0),
    "left_wrist": (0.24, 0.88, 0.02), "right_wrist": (-0.4, 1.85, 0), "left_hip": (0.1, 0.95, 0),
    "right_hip": (-0.1, 0.95, 0), "left_knee": (0.11, 0.52, 0.02), "right_knee": (-0.11, 0.52, 0.02),
    "left_ankle": (0.11, 0.08, 0), "right_ankle": (-0.11, 0.08, 0),
}


def waving(frames: int, fps: float = FPS) -> Motion:
    """One-hand waving built from joint positions directly, so the corpus does not depend on a motion model."""
    joints = np.tile(np.array([_STANDING[name] for name in JOINT_NAMES], dtype=np.float32), (frames, 1, 1))
    angle = 0.5 * np.sin(2 * np.pi * 1.5 * np.arange(frames) / fps)
    elbow = joints[:, JOINT_INDEX["right_elbow"]]
    joints[:, JOINT_INDEX["right_wrist"]] = elbow + 0.25 * np.stack([-np.sin(angle), np.cos(angle), 0 * angle], 1)
    return Motion(joints, fps, np.full(frames, CLASS_INDEX["WAVING_1HAND"]), "reliability corpus")


def person_video(
    path: Path,
    size: tuple[int, int] = CLIP_SIZE,
    frames: int = CLIP_FRAMES,
    codec: str = "h264",
    rotation: int = 0,
    vfr: bool = False,
) -> SceneTruth:
    """One waving figure, encoded with `tests.media.make_video` so any codec, rotation tag or VFR timing works.

    The truth's keypoints are in the upright picture, which is what the pipeline must report whatever
    the rotation metadata says.
    """
    scene = list(render_scene([PersonSpec(waving(frames))], group_camera(size, span=1.0), FPS, frames / FPS,
                              background="plain", seed=0))
    make_video(path, codec=codec, size=size, fps=FPS, frames=frames, rotation=rotation, vfr=vfr,
               draw=lambda index, width, height: scene[index].image)
    return SceneTruth(fps=FPS, image_size=size, labels=np.stack([f.labels for f in scene]),
                      keypoints=np.stack([f.keypoints for f in scene]))


def crowd_video(path: Path, people: int = 8, frames: int = CLIP_FRAMES) -> SceneTruth:
    """`people` figures side by side, 0.8 m apart: more than the six MoveNet MultiPose can report per frame.

    The figures are ~80 px tall on a 480x240 frame; MoveNet needs CROWD_INPUT_SIZE to find them.
    """
    spacing = 0.8
    specs = [PersonSpec(waving(frames), path=((0.0, spacing * (i - (people - 1) / 2), 0.0),)) for i in range(people)]
    camera = group_camera((480, 240), span=spacing * (people - 1) + 0.6)
    return write_scene_video(path, specs, camera, fps=FPS, seconds=frames / FPS, background="plain", seed=1)


REENTRY_FPS = 10.0
REENTRY_FRAMES = 40
REENTRY_AWAY = (14, 28)
"""Frames (inclusive) on which the re-entering person is wholly outside the picture: 1.5 s, longer than the
tracker's 1 s memory, so keeping the id needs its re-entry step."""


def reentry_video(path: Path) -> SceneTruth:
    """A figure that walks out of the right edge, stays away for 1.5 s and comes back (10 fps keeps it short)."""
    away = 4.0  # metres to the right: well outside a camera that frames 1 m
    first, last = REENTRY_AWAY
    keys = ((0.0, 0.0, 0.0), ((first - 4) / REENTRY_FPS, 0.0, 0.0), (first / REENTRY_FPS, away, 0.0),
            (last / REENTRY_FPS, away, 0.0), ((last + 4) / REENTRY_FPS, 0.0, 0.0))
    person = PersonSpec(waving(REENTRY_FRAMES, REENTRY_FPS), path=keys)
    return write_scene_video(path, [person], group_camera(CLIP_SIZE, span=1.0), fps=REENTRY_FPS,
                             seconds=REENTRY_FRAMES / REENTRY_FPS, background="plain", seed=2)


def truncation_source(path: Path, frames: int = 80) -> SceneTruth:
    """A person clip written like a browser-ready upload (index first), so a cut keeps the frames before it.

    Camera-like grain on every frame makes the frames about equally large, as in real footage, so cutting
    at a fraction of the bytes keeps about that fraction of the frames.
    """
    scene = list(render_scene([PersonSpec(waving(frames))], group_camera(CLIP_SIZE, span=1.0), FPS, frames / FPS,
                              background="plain", seed=3))
    rng = np.random.default_rng(3)
    with H264Writer(Path(path), FPS) as writer:
        for frame in scene:
            grain = rng.integers(-12, 13, size=frame.image.shape, dtype=np.int16)
            writer.write(np.clip(frame.image + grain, 0, 255).astype(np.uint8))
    return SceneTruth(fps=FPS, image_size=CLIP_SIZE, labels=np.stack([f.labels for f in scene]),
                      keypoints=np.stack([f.keypoints for f in scene]))


def write_8k(path: Path, frames: int = 3) -> Path:
    """7680x4320 MJPEG: an 8K frame size in a few frames (MJPEG encodes it in a fraction of H.264's time)."""
    return make_video(path, codec="mjpeg", size=(7680, 4320), frames=frames)


def write_without_duration(path: Path, frames: int = 40) -> Path:
    """A Matroska file written as a live stream: no duration and no frame count in its header.

    Screen recorders and interrupted live captures look like this; only decoding can tell how long it is.
    """
    rate = Fraction(30)
    with av.open(str(path), "w", format="matroska", options={"live": "1"}) as output:
        stream = output.add_stream("mjpeg", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        stream.codec_context.time_base = 1 / rate
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * index % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return Path(path)


def decoded_frame_count(path: Path) -> int:
    """Frames FFmpeg decodes from `path` up to where it is damaged, counted without `har_core.video`.

    Decoding is single-threaded here, which also returns the frames just before a cut that refer to the
    cut-off data (B-frames, concealed); threaded decoding, as `har_core.video` does it above 1280x720, drops those.
    """
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                count += len(stream.decode(packet))
        except av.FFmpegError:
            pass  # the cut: what decoded before it is what counts
        try:
            count += len(stream.decode(None))
        except av.FFmpegError:
            pass
    return count


@dataclass(frozen=True)
class Case:
    """One corpus file and what the pipeline must do with it.

    Attributes:
        name: short id (test ids, docs/reliability.md).
        make: writes the file into the given folder and returns its path.
        error: the HarError subclass `analyze` must raise, or None for a (possibly degraded) result.
        words: part of the one-line message users must see (empty for results).
        input_size: MoveNet input size to analyse it with (see FAST_INPUT_SIZE).
    """

    name: str
    make: Callable[[Path], Path]
    error: type[HarError] | None
    words: str = ""
    input_size: int = FAST_INPUT_SIZE


def _file(write: Callable[[Path], object], name: str) -> Callable[[Path], Path]:
    """A `Case.make` that writes `name` in the folder with `write(path)`."""

    def make(folder: Path) -> Path:
        write(folder / name)
        return folder / name

    return make


def _scene(render: Callable[[Path], SceneTruth], name: str) -> Callable[[Path], Path]:
    """A `Case.make` for a rendered clip: also saves its truth beside it (read it back with `truth_of`)."""

    def make(folder: Path) -> Path:
        render(folder / name).save(truth_path(folder / name))
        return folder / name

    return make


def truth_path(video: Path) -> Path:
    """Where `_scene` saves a clip's truth."""
    return video.with_name(video.name + ".truth.json")


def truth_of(video: Path) -> SceneTruth:
    """The known keypoints and labels of a rendered corpus clip."""
    return SceneTruth.load(truth_path(video))


def _cut_upload(fraction: float) -> Callable[[Path], Path]:
    """A browser-ready MP4 (index first) of which only the first `fraction` of the bytes arrived."""

    def make(folder: Path) -> Path:
        whole = folder / "whole.mp4"
        truncation_source(whole)
        return write_truncated(whole, folder / f"cut-{round(fraction * 100)}.mp4", fraction)

    return make


def _cut_recording(fraction: float) -> Callable[[Path], Path]:
    """An MP4 as cameras write it (index at the end) of which only the first `fraction` of the bytes exists."""

    def make(folder: Path) -> Path:
        whole = make_video(folder / "whole.mp4", frames=40)  # PyAV's MP4 muxer writes the index last, as cameras do
        return write_truncated(whole, folder / f"cut-{round(fraction * 100)}.mp4", fraction)

    return make


ERROR_CASES: tuple[Case, ...] = (
    Case("empty", _file(write_empty, "empty.mp4"), VideoError, "empty (0 bytes)"),
    Case("random-bytes", _file(write_random, "noise.mp4"), VideoError, "format is not recognised"),
    Case("text", _file(write_text, "notes.txt"), VideoError, "it is a text file"),
    Case("text-named-mp4", _file(write_text, "notes.mp4"), VideoError, "format is not recognised"),
    Case("png-renamed", _file(write_png, "photo.mp4"), VideoError, "it is a still image"),
    Case("recording-cut-10", _cut_recording(0.1), VideoError, "its index is missing"),
    Case("recording-cut-50", _cut_recording(0.5), VideoError, "its index is missing"),
    Case("recording-cut-90", _cut_recording(0.9), VideoError, "its index is missing"),
    Case("upload-cut-10", _cut_upload(0.1), VideoError, "no frames that can be decoded"),
    Case("upload-cut-25", _cut_upload(0.25), TooShortError, "truncated or damaged"),
    Case("audio-only", _file(write_audio_only, "song.m4a"), VideoError, "audio stream but no video stream"),
    Case("zero-frames", _file(write_zero_frames, "nothing.mkv"), VideoError, "no frames that can be decoded"),
    Case("one-frame", _file(lambda p: make_video(p, frames=1), "still.mp4"), TooShortError, "at least 32"),
    Case("short-mp4", _file(lambda p: make_video(p, frames=20), "short.mp4"), TooShortError, "has 20 frames"),
    Case("short-mkv", _file(lambda p: make_video(p, frames=20), "short.mkv"), TooShortError, "has 20 frames"),
    Case("8k", _file(write_8k, "huge.avi"), TooShortError, "has 3 frames"),
    Case("wide-strip", _file(lambda p: make_video(p, codec="mjpeg", size=(2000, 64), frames=32), "strip.avi"),
         NoPersonError, "No person"),
    Case("tall-strip", _file(lambda p: make_video(p, codec="mjpeg", size=(64, 2000), frames=32), "tall.avi"),
         NoPersonError, "No person"),
    Case("no-person", _file(lambda p: make_video(p, frames=32), "empty-room.mp4"), NoPersonError, "No person"),
)
"""Files that must end in a specific one-line error, with nothing written."""

RESULT_CASES: tuple[Case, ...] = (
    Case("upload-cut-60", _cut_upload(0.6), None),
    Case("upload-cut-90", _cut_upload(0.9), None),
    Case("odd-size", _scene(lambda p: person_video(p, size=(161, 121), codec="mpeg4"), "odd.avi"), None),
    Case("vfr", _scene(lambda p: person_video(p, vfr=True), "vfr.mkv"), None),
    Case("rotated", _scene(lambda p: person_video(p, size=(120, 160), rotation=90), "portrait.mp4"), None),
    Case("crowd", _scene(crowd_video, "crowd.mp4"), None, input_size=CROWD_INPUT_SIZE),
    Case("reentry", _scene(reentry_video, "reentry.mp4"), None),
)
"""Files that must give a (possibly degraded) result; test_bad_input.py checks what is specific to each."""

CASES: dict[str, Case] = {case.name: case for case in (*ERROR_CASES, *RESULT_CASES)}


def write_corpus(folder: Path, names: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the named cases (default: all) into `folder`, one sub-folder each; returns name -> file."""
    files = {}
    for name in names if names is not None else CASES:
        case_dir = Path(folder) / name
        case_dir.mkdir(parents=True, exist_ok=True)
        files[name] = CASES[name].make(case_dir)
    return files


def main(argv: Sequence[str] | None = None) -> None:
    """Write the corpus to a folder, to try the files by hand in the CLI or the dashboard."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("cases", nargs="*", help=f"default: every case ({', '.join(CASES)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    for name, path in write_corpus(args.folder, args.cases or None).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
