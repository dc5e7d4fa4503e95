"""Shaping a run's outputs for the pages: per-person series, summaries, comparisons, one decoded frame.

Plain pandas/NumPy on what `har_core.outputs.load_results` returns; no Streamlit, so it is tested
directly. Nothing here computes anything the pipeline did not: it selects, aligns and totals.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from har_core.outputs import PROB_COLUMNS
from har_core.skeleton import CLASSES, JOINT_INDEX, NUM_JOINTS, UNCERTAIN
from har_core.store import LabelRecord
from har_core.video import iter_frames

NOT_PREDICTED = ("NO_WINDOW", "ABSENT")
"""frames.csv labels of frames without a prediction."""
_ACTION_ORDER = (*CLASSES, UNCERTAIN)


@dataclass(frozen=True)
class PersonSeries:
    """One person's per-frame predictions over the whole video.

    Attributes:
        person_id: tracker id.
        frames: (T,) frame numbers.
        times: (T,) seconds.
        probs: (T, 7) class probabilities in `CLASSES` order, NaN where there is no prediction.
        labels: (T,) label per frame (a class, UNCERTAIN, NO_WINDOW or ABSENT).
    """

    person_id: int
    frames: np.ndarray
    times: np.ndarray
    probs: np.ndarray
    labels: np.ndarray

    def index_of(self, frame: int) -> int:
        """Row of the nearest frame at or before `frame` (clamped to the series)."""
        position = int(np.searchsorted(self.frames, frame, side="right")) - 1
        return min(max(position, 0), len(self.frames) - 1)


def person_ids(frames: pd.DataFrame, summary: dict) -> list[int]:
    """Tracked people, the primary person first, then by how long they were seen."""
    people = summary.get("people") or []
    if people:
        ordered = sorted(people, key=lambda p: (not p.get("primary", False), -int(p.get("frames_present", 0))))
        return [int(p["person_id"]) for p in ordered]
    return sorted(int(p) for p in frames["person_id"].unique())


def person_series(frames: pd.DataFrame, person_id: int) -> PersonSeries:
    """Pick one person's rows of frames.csv as arrays."""
    rows = frames[frames["person_id"] == person_id].sort_values("frame")
    return PersonSeries(
        person_id=int(person_id),
        frames=rows["frame"].to_numpy(dtype=np.int64),
        times=rows["time_s"].to_numpy(dtype=float),
        probs=rows[list(PROB_COLUMNS)].to_numpy(dtype=float),
        labels=rows["label"].to_numpy(dtype=str),
    )


def person_segments(summary: dict, person_id: int) -> list[dict]:
    """That person's segments from summary.json, in time order."""
    segments = [s for s in summary.get("segments") or [] if int(s["person_id"]) == person_id]
    return sorted(segments, key=lambda s: s["start_s"])


def segments_table(segments: list[dict]) -> pd.DataFrame:
    """The segment table users read: start, end, duration, action, mean confidence."""
    return pd.DataFrame({
        "start (s)": [round(float(s["start_s"]), 2) for s in segments],
        "end (s)": [round(float(s["end_s"]), 2) for s in segments],
        "duration (s)": [round(float(s["end_s"]) - float(s["start_s"]), 2) for s in segments],
        "action": [str(s["label"]) for s in segments],
        "mean confidence": [float(s["mean_confidence"]) for s in segments],
    })


def frame_durations(times: np.ndarray) -> np.ndarray:
    """How long each frame is shown: the gap to the next one (the last gets the median gap)."""
    if len(times) == 0:
        return np.zeros(0)
    gaps = np.diff(times)
    last = float(np.median(gaps)) if len(gaps) else 0.0
    return np.append(gaps, last)


def action_summary(series: PersonSeries) -> pd.DataFrame:
    """Time per action and the mean confidence of the frames carrying it, over analysed frames only.

    Returns:
        Columns action, seconds, share (of the analysed time), mean confidence (of the label's
        class; for UNCERTAIN, of the top class). Rows in class order, UNCERTAIN last; absent actions
        are left out.
    """
    durations = frame_durations(series.times)
    analysed = ~np.isin(series.labels, NOT_PREDICTED)
    total = float(durations[analysed].sum())
    rows = []
    for label in _ACTION_ORDER:
        mask = series.labels == label
        if not mask.any():
            continue
        probs = series.probs[mask]
        confidence = probs[:, CLASSES.index(label)] if label in CLASSES else np.nanmax(probs, axis=1)
        seconds = float(durations[mask].sum())
        rows.append({"action": label, "seconds": round(seconds, 2),
                     "share": round(seconds / total, 3) if total > 0 else 0.0,
                     "mean confidence": round(float(np.nanmean(confidence)), 3)})
    return pd.DataFrame(rows, columns=["action", "seconds", "share", "mean confidence"])


def resample(series: PersonSeries, grid: np.ndarray) -> np.ndarray:
    """Probabilities on a time grid: the latest frame at or before each grid time (NaN before the first).

    Sample-and-hold rather than interpolation, because a frame's prediction holds until the next frame.
    """
    out = np.full((len(grid), len(CLASSES)), np.nan)
    if len(series.times) == 0:
        return out
    index = np.searchsorted(series.times, grid, side="right") - 1
    inside = (index >= 0) & (grid <= series.times[-1] + 1e-9)
    out[inside] = series.probs[index[inside]]
    return out


def common_grid(series: list[PersonSeries], step_s: float = 1 / 30) -> np.ndarray:
    """A regular time grid spanning every series, for comparing clips with different frame rates."""
    end = max((float(s.times[-1]) for s in series if len(s.times)), default=0.0)
    return np.arange(0.0, end + step_s / 2, step_s)


def difference(first: PersonSeries, second: PersonSeries, step_s: float = 1 / 30) -> tuple[np.ndarray, np.ndarray]:
    """(grid times, first − second probabilities (T, 7)) where both have a prediction, NaN elsewhere."""
    grid = common_grid([first, second], step_s)
    return grid, resample(first, grid) - resample(second, grid)


def summary_tables(series: list[tuple[str, PersonSeries]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per compared series: time and mean confidence per action.

    Returns:
        (long table with columns action, seconds, share, mean confidence, series; the same as one wide
        row per series with "<ACTION> (seconds)" and "<ACTION> (mean confidence)" columns).
    """
    parts = [action_summary(item).assign(series=name) for name, item in series]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["action", "series"])
    if long.empty:
        return long, pd.DataFrame({"series": [name for name, _ in series]})
    seconds = long.pivot_table(index="series", columns="action", values="seconds", aggfunc="sum", sort=False)
    confidence = long.pivot_table(index="series", columns="action", values="mean confidence", aggfunc="mean",
                                  sort=False)
    order = [c for c in _ACTION_ORDER if c in seconds.columns]
    wide = pd.concat({"seconds": seconds[order], "mean confidence": confidence[order]}, axis=1)
    wide.columns = [f"{action} ({what})" for what, action in wide.columns]
    return long, wide.reset_index()


def difference_table(long: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Seconds per action of two series side by side, with the differences (first minus second)."""
    a, b = (long[long["series"] == name].set_index("action") for name in (first, second))
    actions = [c for c in _ACTION_ORDER if c in a.index or c in b.index]
    seconds_a = np.array([a["seconds"].get(c, 0.0) for c in actions], dtype=float)
    seconds_b = np.array([b["seconds"].get(c, 0.0) for c in actions], dtype=float)
    confidence_a = np.array([a["mean confidence"].get(c, np.nan) for c in actions], dtype=float)
    confidence_b = np.array([b["mean confidence"].get(c, np.nan) for c in actions], dtype=float)
    return pd.DataFrame({
        "action": actions,
        f"{first} (s)": seconds_a,
        f"{second} (s)": seconds_b,
        "difference (s)": seconds_a - seconds_b,
        "mean confidence difference": confidence_a - confidence_b,
    })


def keypoints_at(keypoints: pd.DataFrame, frame: int) -> list[tuple[int, np.ndarray]]:
    """Every person's (17, 3) keypoints at one frame, from keypoints.csv rows."""
    rows = keypoints[keypoints["frame"] == frame]
    people = []
    for person_id, group in rows.groupby("person_id", sort=True):
        points = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
        index = group["joint"].map(JOINT_INDEX).to_numpy()
        points[index] = group[["x", "y", "score"]].to_numpy(dtype=np.float32)
        people.append((int(person_id), points))
    return people


def read_frame(video: Path, index: int) -> np.ndarray:
    """The picture of frame `index` (RGB), decoding from the start: exact, and fine for dashboard-size clips."""
    image = None
    for frame in iter_frames(video):
        image = frame.image
        if frame.index >= index:
            break
    if image is None:
        raise ValueError(f"{video} has no frames")
    return image


def zip_files(files: dict[str, Path]) -> bytes:
    """One zip of the named files (video stored as is, text compressed) for "download everything"."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in files.items():
            method = zipfile.ZIP_STORED if name.endswith(".mp4") else zipfile.ZIP_DEFLATED
            archive.write(path, arcname=name, compress_type=method)
    return buffer.getvalue()


def selected_range(selection: dict) -> tuple[float, float] | None:
    """The time span (seconds) of a box or lasso selection on the timeline; None for a click or no selection.

    A box gives its x extent; a lasso its outline's. Plotly reports both in the x axis's units, which on
    the timeline are seconds, so the span is what the user dragged across whether or not points lie in it.
    """
    shapes = [*(selection.get("box") or []), *(selection.get("lasso") or [])]
    xs = [float(x) for shape in shapes for x in shape.get("x") or [] if x is not None]
    if not xs:
        return None
    start, end = max(min(xs), 0.0), max(xs)
    return (round(start, 2), round(end, 2)) if end > start else None


def labels_table(labels: list[LabelRecord], run_names: dict[str, str]) -> pd.DataFrame:
    """The user's labelled ranges across runs: run, person, start, end, length and class, in store order."""
    return pd.DataFrame({
        "run": [run_names.get(label.run_id, label.run_id) for label in labels],
        "person": [label.person_id for label in labels],
        "from (s)": [round(label.start_s, 2) for label in labels],
        "to (s)": [round(label.end_s, 2) for label in labels],
        "seconds": [round(label.end_s - label.start_s, 2) for label in labels],
        "class": [label.label for label in labels],
    })


def label_counts(labels: list[LabelRecord]) -> pd.DataFrame:
    """Ranges and labelled seconds per class, every class listed (a class nobody labelled shows zeros)."""
    return pd.DataFrame({
        "class": list(CLASSES),
        "ranges": [sum(label.label == name for label in labels) for name in CLASSES],
        "seconds": [round(sum(label.end_s - label.start_s for label in labels if label.label == name), 1)
                    for name in CLASSES],
    })


EVALUATION_NAMES = {"labelled": "your labelled windows (cross-validated by run)",
                    "simulated": "held-out simulated windows", "mocap": "held-out real motion capture"}


def evaluation_table(evaluation: dict) -> pd.DataFrame:
    """A fine-tuned model's before/after accuracy per evaluation set (config.json `evaluation`)."""
    rows = []
    for name, figures in evaluation.items():
        before, after = figures.get("before") or {}, figures.get("after") or {}
        rows.append({"set": EVALUATION_NAMES.get(name, name), "windows": before.get("n"),
                     "before": before.get("accuracy"), "after": after.get("accuracy")})
    return pd.DataFrame(rows, columns=["set", "windows", "before", "after"])
