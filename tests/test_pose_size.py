"""The automatic pose input size: 256, and a second, larger pass when the main person is small in it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from har_core.pipeline import POSE_AGAIN_STAGE, AnalysisSettings, Progress, analyze, estimate_poses
from har_core.pose_size import (
    RERUN_BELOW_PX,
    RERUN_INPUT_SIZE,
    larger_input_size,
    main_person_height,
    parse_input_size,
)
from har_core.tracking import TrackStats
from tests.reliability_corpus import crowd_video, person_video


def _stats(track_id: int, frames: int, height: float) -> TrackStats:
    stats = TrackStats(track_id, first_frame=0, last_frame=frames - 1)
    for frame in range(frames):
        stats.add(frame, np.array([0.0, 0.0, 10.0, height]), 0.8)
    return stats


def test_main_person_height_is_the_primary_box_in_input_pixels() -> None:
    # The primary person ranks by summed box height: the 120-px person seen on 10 frames, not the 200-px one on 2.
    stats = [_stats(1, 10, 120.0), _stats(2, 2, 200.0)]
    assert main_person_height(stats, (640, 480), 256) == pytest.approx(120.0 * 256 / 640)
    assert main_person_height(stats, (480, 640), 512) == pytest.approx(120.0 * 512 / 640)
    assert main_person_height([], (640, 480), 256) is None


def test_larger_input_only_for_small_or_missing_people() -> None:
    assert larger_input_size(RERUN_BELOW_PX) is None
    assert larger_input_size(150.0) is None
    assert larger_input_size(RERUN_BELOW_PX - 1) == larger_input_size(20.0) == RERUN_INPUT_SIZE
    assert larger_input_size(None) == RERUN_INPUT_SIZE  # nobody found at 256: look again
    assert larger_input_size(None, RERUN_INPUT_SIZE) is None  # never a third pass


@pytest.mark.parametrize(("text", "value"), [("auto", None), ("256", 256), ("512", 512)])
def test_cli_input_size_accepts_auto_and_multiples_of_32(text: str, value: int | None) -> None:
    assert parse_input_size(text) == value


@pytest.mark.parametrize("text", ["250", "96", "2048", "big", ""])
def test_cli_input_size_refuses_what_movenet_cannot_take(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="auto or a multiple of 32"):
        parse_input_size(text)


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crowd") / "crowd.mp4"
    crowd_video(path)
    return path


def test_small_people_are_looked_at_again_with_a_larger_input(crowd: Path, tmp_path: Path) -> None:
    """Figures ~80 px tall in a 480-px-wide frame are ~43 px in a 256 input: the auto size looks again larger
    and finds more of them, and the run records the size it used and the extra stage."""
    stages: list[str] = []

    def follow(progress: Progress) -> None:
        if not stages or stages[-1] != progress.stage:
            stages.append(progress.stage)

    fixed = analyze(crowd, tmp_path / "fixed", AnalysisSettings(input_size=256))
    auto = analyze(crowd, tmp_path / "auto", AnalysisSettings(), progress=follow)
    summary = json.loads((auto.out_dir / "summary.json").read_text())
    assert summary["settings"]["input_size"] is None
    assert summary["pose"]["input_size"] > 256
    assert stages[:2] == ["pose", POSE_AGAIN_STAGE]
    assert len(auto.people) > len(fixed.people)


def test_people_who_fill_the_input_keep_the_cheap_size(tmp_path: Path) -> None:
    video = tmp_path / "person.mp4"
    person_video(video)
    run = estimate_poses(video)
    assert run.backend.input_size == 256
    assert main_person_height(run.tracker.stats.values(), run.frame_size, 256) >= RERUN_BELOW_PX


def test_rendered_far_people_are_found_with_a_larger_input_as_the_rule_assumes() -> None:
    """bench.person_size on a few rendered frames: a person 80 px tall in a 640-px-wide frame (32 px in the
    256 input) is found and placed better at 512, which is what the automatic size relies on."""
    from bench.person_size import measure, render_samples

    samples = render_samples(clips_per_class=1, every=15)
    results = {r.method: r for r in measure(samples, widths=[160], sizes=[256, 512], crop=False, canvas=640)}
    small, larger = results["input 256"], results["input 512"]
    assert small.box_px < RERUN_BELOW_PX
    assert larger.found > small.found + 0.2 and larger.pck > small.pck + 0.2
