"""Dashboard figure builders and data shaping, on results tables the tests build themselves."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from dashboard.data import (
    PersonSeries,
    action_summary,
    difference,
    difference_table,
    keypoints_at,
    person_ids,
    person_segments,
    person_series,
    read_frame,
    resample,
    selected_range,
    summary_tables,
    zip_files,
)
from har_core.outputs import FRAME_COLUMNS, KEYPOINT_COLUMNS
from har_core.skeleton import CLASS_COLORS, CLASSES, JOINT_NAMES
from tests.media import make_video, read_frame_number

FPS = 10.0


def frames_table(labels_by_person: dict[int, list[str]]) -> pd.DataFrame:
    """frames.csv rows: a class label gets 0.8 on that class, UNCERTAIN a flat 1/7, others no prediction."""
    rows = []
    n = len(next(iter(labels_by_person.values())))
    for frame in range(n):
        for person_id, labels in labels_by_person.items():
            label = labels[frame]
            if label in CLASSES:
                probs = np.full(len(CLASSES), 0.2 / (len(CLASSES) - 1))
                probs[CLASSES.index(label)] = 0.8
            elif label == "UNCERTAIN":
                probs = np.full(len(CLASSES), 1 / len(CLASSES))
            else:
                probs = np.full(len(CLASSES), np.nan)
            rows.append([frame, frame / FPS, person_id, *probs, label])
    return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


LABELS = ["NO_WINDOW"] * 4 + ["BOXING"] * 10 + ["UNCERTAIN"] * 2 + ["CLAPPING_HANDS"] * 4 + ["ABSENT"] * 2
SEGMENTS = [
    {"person_id": 1, "label": "BOXING", "start_frame": 4, "end_frame": 13, "start_s": 0.4, "end_s": 1.4,
     "mean_confidence": 0.8},
    {"person_id": 1, "label": "CLAPPING_HANDS", "start_frame": 16, "end_frame": 19, "start_s": 1.6, "end_s": 2.0,
     "mean_confidence": 0.8},
    {"person_id": 2, "label": "JUMPING", "start_frame": 0, "end_frame": 21, "start_s": 0.0, "end_s": 2.2,
     "mean_confidence": 0.8},
]


@pytest.fixture
def frames() -> pd.DataFrame:
    return frames_table({1: LABELS, 2: ["JUMPING"] * len(LABELS)})


def test_thin_keeps_ends_and_bounds_points() -> None:
    assert charts.thin(10, 20).tolist() == list(range(10))
    kept = charts.thin(10_000, 500)
    assert kept[0] == 0 and kept[-1] == 9_999 and len(kept) <= 500 and np.all(np.diff(kept) > 0)


def test_person_series_and_ids(frames: pd.DataFrame) -> None:
    summary = {"people": [{"person_id": 2, "frames_present": 22, "primary": False},
                          {"person_id": 1, "frames_present": 18, "primary": True}]}
    assert person_ids(frames, summary) == [1, 2]
    assert person_ids(frames, {}) == [1, 2]
    series = person_series(frames, 1)
    assert series.frames.tolist() == list(range(len(LABELS)))
    assert series.probs.shape == (len(LABELS), len(CLASSES))
    assert np.isnan(series.probs[0]).all() and series.probs[5, CLASSES.index("BOXING")] == pytest.approx(0.8)
    assert series.index_of(7) == 7 and series.index_of(-3) == 0 and series.index_of(999) == len(LABELS) - 1
    assert [s["label"] for s in person_segments({"segments": SEGMENTS}, 1)] == ["BOXING", "CLAPPING_HANDS"]


def test_action_summary_counts_time_and_confidence_of_analysed_frames(frames: pd.DataFrame) -> None:
    table = action_summary(person_series(frames, 1)).set_index("action")
    assert table.index.tolist() == ["BOXING", "CLAPPING_HANDS", "UNCERTAIN"]
    assert table.loc["BOXING", "seconds"] == pytest.approx(1.0)
    assert table.loc["CLAPPING_HANDS", "seconds"] == pytest.approx(0.4)
    assert table.loc["UNCERTAIN", "seconds"] == pytest.approx(0.2)
    assert table["share"].sum() == pytest.approx(1.0, abs=0.01)
    assert table.loc["BOXING", "mean confidence"] == pytest.approx(0.8)
    assert table.loc["UNCERTAIN", "mean confidence"] == pytest.approx(1 / 7, abs=1e-3)


def test_resample_holds_each_frame_until_the_next_and_differences_align(frames: pd.DataFrame) -> None:
    series = person_series(frames, 2)
    grid = np.array([-0.5, 0.0, 0.05, 0.1, 2.1, 5.0])
    values = resample(series, grid)
    assert np.isnan(values[0]).all() and np.isnan(values[-1]).all()
    np.testing.assert_allclose(values[1], series.probs[0])
    np.testing.assert_allclose(values[2], series.probs[0])
    np.testing.assert_allclose(values[3], series.probs[1])
    times, diff = difference(series, series)
    assert times[0] == 0 and times[-1] == pytest.approx(2.1, abs=1 / 30)
    assert np.nanmax(np.abs(diff)) == 0
    boxing = CLASSES.index("BOXING")
    _, diff = difference(person_series(frames, 1), series)
    assert np.nanmax(diff[:, boxing]) == pytest.approx(0.8 - 0.2 / 6)


def test_compare_tables(frames: pd.DataFrame) -> None:
    series = [("a", person_series(frames, 1)), ("b", person_series(frames, 2))]
    long, wide = summary_tables(series)
    assert set(long["series"]) == {"a", "b"}
    assert wide["series"].tolist() == ["a", "b"]
    assert wide.loc[1, "JUMPING (seconds)"] == pytest.approx(2.2)
    table = difference_table(long, "a", "b").set_index("action")
    assert table.loc["JUMPING", "difference (s)"] == pytest.approx(-2.2)
    assert table.loc["BOXING", "difference (s)"] == pytest.approx(1.0)
    assert np.isnan(table.loc["BOXING", "mean confidence difference"])


def test_timeline_figure_has_clickable_class_lines_segment_band_and_cursor(frames: pd.DataFrame) -> None:
    series = person_series(frames, 1)
    fig = charts.timeline_figure(series, person_segments({"segments": SEGMENTS}, 1), threshold=0.5, cursor_s=0.7)
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines] == list(CLASSES)
    for trace in lines:
        assert "markers" in trace.mode
        assert trace.line.color == CLASS_COLORS[trace.name]
        assert list(trace.customdata) == series.frames.tolist()
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert set(bars) == {"BOXING", "CLAPPING_HANDS"}
    assert bars["BOXING"].marker.color == CLASS_COLORS["BOXING"]
    assert bars["BOXING"].base[0] == pytest.approx(0.4) and bars["BOXING"].x[0] == pytest.approx(1.0)
    assert bars["BOXING"].customdata[0][0] == 4
    cursor = [s for s in fig.layout.shapes if s.x0 == s.x1 == 0.7]
    assert cursor, "no cursor line at the inspected time"
    assert any(s.y0 == s.y1 == 0.5 for s in fig.layout.shapes)


def test_probability_bars_and_skeleton() -> None:
    probs = np.array([0.1, 0.0, 0.6, 0.1, 0.1, 0.05, 0.05])
    bars = charts.probability_bars(probs, 0.5)
    assert list(bars.data[0].y) == list(CLASSES) and list(bars.data[0].x) == pytest.approx(probs.tolist())
    assert list(bars.data[0].marker.color) == [CLASS_COLORS[c] for c in CLASSES]
    keypoints = np.zeros((17, 3), dtype=np.float32)
    keypoints[:, 0] = np.arange(17) * 10
    keypoints[:, 1] = 100
    keypoints[5:11, 2] = 0.9  # shoulders, elbows, wrists only
    fig = charts.skeleton_figure([(3, keypoints)], width=640, height=480, colors={3: "#123456"})
    bones, joints = fig.data
    assert bones.line.color == "#123456"
    assert sum(x is None for x in bones.x) == 5  # shoulder-shoulder and the two arms' upper/lower bones
    assert len(joints.x) == 6
    assert tuple(fig.layout.yaxis.range) == (480, 0)


def test_keypoint_tables_to_figures() -> None:
    rows = []
    for frame in range(3):
        for person_id in (1, 2):
            for joint_index, joint in enumerate(JOINT_NAMES):
                score = 0.1 if (joint == "left_wrist" and frame == 1) else 0.9
                rows.append([frame, frame / FPS, person_id, joint, joint_index + person_id, frame * 2.0, score])
    keypoints = pd.DataFrame(rows, columns=list(KEYPOINT_COLUMNS))
    people = keypoints_at(keypoints, 1)
    assert [p for p, _ in people] == [1, 2]
    assert people[1][1][JOINT_NAMES.index("nose")].tolist() == pytest.approx([2.0, 2.0, 0.9])
    mine = keypoints[keypoints["person_id"] == 1]
    trajectories = charts.trajectory_figure(mine, ["left_wrist", "nose"], cursor_s=0.1)
    wrist_x = trajectories.data[0]
    assert wrist_x.name == "left wrist" and np.isnan(wrist_x.y[1])
    assert wrist_x.y[0] == JOINT_NAMES.index("left_wrist") + 1
    heat = charts.confidence_heatmap(mine).data[0]
    assert heat.z.shape == (17, 3) and heat.z[JOINT_NAMES.index("left_wrist"), 1] == pytest.approx(0.1)


def test_compare_difference_time_and_training_figures(frames: pd.DataFrame) -> None:
    series = [("a", person_series(frames, 1)), ("b", person_series(frames, 2))]
    fig = charts.compare_figure(series)
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["a", "b"]
    assert len(fig.data) == 2 * (1 + len(CLASSES))
    times, diff = difference(series[0][1], series[1][1])
    assert [t.name for t in charts.difference_figure(times, diff, ("a", "b")).data] == list(CLASSES)
    long, _ = summary_tables(series)
    time_fig = charts.time_per_action_figure(long)
    assert {t.name for t in time_fig.data} == {"BOXING", "CLAPPING_HANDS", "UNCERTAIN", "JUMPING"}
    metrics = pd.DataFrame({"epoch": [0, 0, 1, 1], "train_loss": [1.0, None, 0.5, None],
                            "val_loss": [None, 1.2, None, 0.7], "val_acc": [None, 0.4, None, 0.8]})
    curves = charts.training_curves(metrics)
    assert {t.name: len(t.x) for t in curves.data} == {"train_loss": 2, "val_loss": 2, "val_acc": 2}
    ensemble = pd.concat([metrics.assign(member=0), metrics.assign(member=1)], ignore_index=True)
    names = {t.name: len(t.x) for t in charts.training_curves(ensemble).data}
    assert names == {f"{m} · member {k}": 2 for m in ("train_loss", "val_loss", "val_acc") for k in (0, 1)}


def test_read_frame_decodes_the_requested_frame(tmp_path: Path) -> None:
    video = make_video(tmp_path / "numbers.mp4", frames=24)
    for index in (0, 7, 23):
        assert read_frame_number(read_frame(video, index)) == index


def test_zip_files_round_trip(tmp_path: Path) -> None:
    files = {}
    for name, data in (("annotated.mp4", b"\x00" * 100), ("frames.csv", b"frame\n0\n")):
        (tmp_path / name).write_bytes(data)
        files[name] = tmp_path / name
    with zipfile.ZipFile(io.BytesIO(zip_files(files))) as archive:
        assert sorted(archive.namelist()) == ["annotated.mp4", "frames.csv"]
        assert archive.read("frames.csv") == b"frame\n0\n"
        assert archive.getinfo("annotated.mp4").compress_type == zipfile.ZIP_STORED



def test_a_box_or_lasso_selection_gives_the_time_span_and_a_click_none() -> None:
    assert selected_range({"points": [{"x": 1.0}], "box": [], "lasso": []}) is None
    assert selected_range({"box": [{"x": [2.5, 0.75], "y": [0, 1]}]}) == (0.75, 2.5)
    assert selected_range({"lasso": [{"x": [-0.2, 1.0, 1.4], "y": [0, 1, 0]}]}) == (0.0, 1.4)
    assert selected_range({"box": [{"x": [1.0, 1.0]}]}) is None


def test_labelled_ranges_are_bands_in_their_class_colour() -> None:
    series = PersonSeries(0, np.arange(60), np.arange(60) / 30, np.full((60, 7), 1 / 7), np.full(60, "OTHER"))
    fig = charts.timeline_figure(series, [], labelled=[(0.5, 1.2, "BOXING")])
    band = [shape for shape in fig.layout.shapes if shape.type == "rect"]
    assert len(band) == 1 and (band[0].x0, band[0].x1) == (0.5, 1.2)
    assert band[0].fillcolor == charts.label_color("BOXING")
    assert any(a.text == "labelled boxing" for a in fig.layout.annotations)
