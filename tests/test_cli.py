"""`python -m har_core analyze`: success with progress, and a one-line error with nothing written for bad input."""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from har_core.cli import main
from har_core.outputs import OUTPUT_FILES
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
from tests.test_pipeline import render_clip


def test_success_writes_outputs_with_progress_and_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = tmp_path / "wave.mp4"
    render_clip(video, seconds=40 / 30)
    out = tmp_path / "out"
    code = main(["analyze", str(video), "--out", str(out), "--people", "primary", "--threshold", "0.7",
                 "--smoothing", "0", "--input-size", "192", "--pose-every", "3", "--pose-runtime", "litert"])
    captured = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert "frames/s" in captured.err and "pose + tracking" in captured.err and "render + encode" in captured.err
    assert captured.out.startswith(f"wrote {out}")
    summary = json.loads((out / "summary.json").read_text())
    chosen = {"people": "primary", "threshold": 0.7, "smoothing": 0, "input_size": 192, "pose_every": 3,
              "pose_runtime": "litert"}
    assert summary["settings"] | chosen == summary["settings"]
    assert summary["pose"]["input_size"] == 192 and summary["pose"]["runtime"]["name"] == "litert"


BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (lambda d: write_empty(d / "empty.mp4"), "empty"),
    "random-bytes": (lambda d: write_random(d / "noise.mp4"), "Not a video"),
    "text": (lambda d: write_text(d / "notes.mp4"), "Not a video"),
    "png": (lambda d: write_png(d / "picture.mp4"), "still image"),
    "truncated": (lambda d: write_truncated(make_video(d / "whole.mp4", frames=40), d / "cut.mp4", 0.5),
                  "incomplete or damaged"),
    "audio-only": (lambda d: write_audio_only(d / "sound.mp4"), "no video stream"),
    "zero-frames": (lambda d: write_zero_frames(d / "zero.mkv"), "no frames"),
    "too-short": (lambda d: make_video(d / "short.mp4", frames=20), "at least 32"),
    "no-person": (lambda d: make_video(d / "nobody.mp4", frames=32), "No person"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_leaves_nothing(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make, words = BAD_INPUTS[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    video = make(inputs)
    out = tmp_path / "out"
    code = main(["analyze", str(video), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no staging folder either


def test_existing_out_dir_is_left_as_it_was_on_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = write_random(tmp_path / "noise.mp4")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["analyze", str(video), "--out", str(out), "--quiet"]) == 2
    assert out.is_dir() and not list(out.iterdir())


@pytest.mark.parametrize(("option", "value", "message"), [("--threshold", "1.5", "between 0 and 1"),
                                                        ("--pose-every", "9", "auto or 1 to 4"),
                                                        ("--pose-every", "fast", "invalid"),
                                                        ("--pose-runtime", "onnx", "invalid choice")])
def test_invalid_option_is_refused_by_the_parser(option: str, value: str, message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "o"), option, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_text(tmp_path / "notes.mp4")
    monkeypatch.setattr(sys, "argv", ["har_core", "analyze", str(video), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("har_core", run_name="__main__")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: Not a video")
    assert not (tmp_path / "o").exists()
