"""Output files: schemas, a write/read round trip, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import OutputError
from har_core.outputs import (
    FRAME_COLUMNS,
    FRAMES_FILE,
    KEYPOINT_COLUMNS,
    KEYPOINTS_FILE,
    SUMMARY_FILE,
    VIDEO_FILE,
    KeypointsWriter,
    load_results,
    package_versions,
    people_records,
    segment_records,
    write_frames_csv,
    write_summary,
)
from har_core.poses import Poses
from har_core.skeleton import CLASSES, JOINT_NAMES, NUM_CLASSES, NUM_JOINTS
from har_core.timeline import ABSENT, NO_WINDOW, PersonTimeline, Segment

N_FRAMES = 40
TIMES = np.arange(N_FRAMES) / 25.0


def timeline(person_id: int, first: int, label: str, rng: np.random.Generator) -> PersonTimeline:
    """A made-up timeline: absent before `first`, NO_WINDOW for 31 frames, then `label`."""
    detected = np.arange(N_FRAMES) >= first
    probs = np.full((N_FRAMES, NUM_CLASSES), np.nan, dtype=np.float32)
    labels = np.where(detected, NO_WINDOW, ABSENT).astype("<U16")
    predicted = np.arange(N_FRAMES) >= first + 31
    probs[predicted] = rng.dirichlet(np.ones(NUM_CLASSES), size=int(predicted.sum()))
    labels[predicted] = label
    confidence = np.where(predicted, np.nanmax(np.nan_to_num(probs, nan=0), axis=1), np.nan).astype(np.float32)
    start = first + 31
    segment = Segment(person_id, label, start, N_FRAMES - 1, float(TIMES[start]), N_FRAMES / 25.0, 0.61234)
    return PersonTimeline(person_id, probs, confidence, labels, detected, [segment])


def write_run(folder: Path) -> tuple[list[PersonTimeline], list[Poses]]:
    rng = np.random.default_rng(0)
    folder.mkdir()
    timelines = [timeline(2, 0, "BOXING", rng), timeline(5, 4, "OTHER", rng)]
    frames = []
    with KeypointsWriter(folder / KEYPOINTS_FILE) as writer:
        for f in range(N_FRAMES):
            ids = [2] if f < 4 else [2, 5]
            kp = rng.uniform(0, 300, (len(ids), NUM_JOINTS, 3)).astype(np.float32)
            kp[..., 2] /= 300
            poses = Poses(kp, np.zeros((len(ids), 4)), np.full(len(ids), 0.9), np.array(ids))
            frames.append(poses)
            writer.write(f, float(TIMES[f]), poses)
    rows = write_frames_csv(folder / FRAMES_FILE, timelines, TIMES)
    assert rows == 2 * N_FRAMES
    write_summary(folder / SUMMARY_FILE, {
        "people": people_records(timelines, primary_id=2),
        "segments": segment_records(timelines),
        "versions": package_versions(),
    })
    (folder / VIDEO_FILE).write_bytes(b"stand-in")
    return timelines, frames


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    timelines, frames = write_run(tmp_path / "run")
    results = load_results(tmp_path / "run")
    df = results.frames
    assert tuple(df.columns) == FRAME_COLUMNS
    assert len(df) == 2 * N_FRAMES
    assert df["frame"].tolist()[:4] == [0, 0, 1, 1]  # frame-major, people in timeline order
    for tl in timelines:
        person = df[df["person_id"] == tl.person_id].reset_index(drop=True)
        assert person["label"].tolist() == tl.labels.tolist()
        got = person[[f"p_{c}" for c in CLASSES]].to_numpy()
        np.testing.assert_allclose(got, tl.probs, atol=5e-5)  # NaN where empty, on both sides
        np.testing.assert_allclose(person["time_s"], TIMES, atol=1e-4)
    assert df["frame"].dtype == np.int64 and df["p_BOXING"].dtype == np.float64

    kp = results.keypoints
    assert tuple(kp.columns) == KEYPOINT_COLUMNS
    assert len(kp) == sum(len(p) for p in frames) * NUM_JOINTS
    assert kp["joint"].tolist()[:NUM_JOINTS] == list(JOINT_NAMES)
    last = kp[(kp["frame"] == N_FRAMES - 1) & (kp["person_id"] == 5)]
    np.testing.assert_allclose(last[["x", "y"]].to_numpy(), frames[-1].keypoints[1, :, :2], atol=0.006)
    np.testing.assert_allclose(last["score"].to_numpy(), frames[-1].keypoints[1, :, 2], atol=6e-4)

    summary = results.summary
    assert summary["schema_version"] == 1
    assert summary["people"] == [
        {"person_id": 2, "frames_present": 40, "first_frame": 0, "last_frame": 39, "primary": True},
        {"person_id": 5, "frames_present": 36, "first_frame": 4, "last_frame": 39, "primary": False},
    ]
    assert summary["segments"][1] == {"person_id": 5, "label": "OTHER", "start_frame": 35, "end_frame": 39,
                                      "start_s": 1.4, "end_s": 1.6, "mean_confidence": 0.61234}
    assert summary["versions"]["numpy"] == np.__version__
    assert results.video == tmp_path / "run" / VIDEO_FILE


def test_summary_is_plain_json(tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    text = (tmp_path / "run" / SUMMARY_FILE).read_text(encoding="utf-8")
    assert json.loads(text)["people"][0]["person_id"] == 2


def test_incomplete_folder_is_refused(tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    (tmp_path / "run" / KEYPOINTS_FILE).unlink()
    with pytest.raises(OutputError, match="missing keypoints.csv"):
        load_results(tmp_path / "run")


def test_unwritable_location_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="Cannot write"):
        KeypointsWriter(tmp_path / "no-such-folder" / KEYPOINTS_FILE)
    with pytest.raises(OutputError, match="Cannot write"):
        write_summary(tmp_path / "no-such-folder" / SUMMARY_FILE, {})
