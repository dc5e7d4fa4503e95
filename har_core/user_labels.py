"""A user's corrections: labelled time ranges of analysed runs, and the classifier windows they label.

A labelled range says "from start_s to end_s, person P of this run was really doing LABEL". The windows it
labels are cut from the run's keypoints.csv exactly as the classifier cut them when the run was analysed:
the same classifier-rate sampling, gap filling and qualifying rule (`har_core.timeline.sampled_track` and
`track_windows`), so a model fine-tuned on them sees what it will see when it analyses. A window is
labelled when its last sample lies in a range, because its prediction belongs to that sample (the
classifier is causal). A window inside several ranges of one person takes the label of the range given last.

Ranges come from a CSV (`python -m models.finetune LABELS.csv`, columns in LABEL_COLUMNS) or from the run
store (the dashboard), and both end up as `LabelledRange`s.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from har_core.errors import LabelError
from har_core.features import WINDOW
from har_core.frame_rate import sample_times
from har_core.outputs import FRAMES_FILE, KEYPOINTS_FILE
from har_core.skeleton import CLASSES, JOINT_INDEX, NUM_JOINTS
from har_core.store import LABEL_SLACK_S, RunStatus, RunStore
from har_core.timeline import PersonTrack, sampled_track, track_windows

LABEL_COLUMNS = ("results", "person_id", "start_s", "end_s", "label")


@dataclass(frozen=True)
class LabelledRange:
    """One correction: `person_id` of the run in `results` did `label` from `start_s` to `end_s` (seconds)."""

    results: Path
    person_id: int
    start_s: float
    end_s: float
    label: str

    def to_dict(self) -> dict:
        return {"results": str(self.results), "person_id": self.person_id, "start_s": self.start_s,
                "end_s": self.end_s, "label": self.label}


@dataclass
class LabelledWindows:
    """Keypoint windows the user labelled, ready for the training code's augmentations and features.

    Attributes:
        keypoints: (N, 32, 17, 3) float32 pixels and scores, as the pose estimator reported them.
        labels: (N,) int64 class index of each window.
        runs: (N,) int64 index into `run_names`: which results folder a window comes from (the unit of
            cross-validation, since windows of one run share its camera, room and person).
        ranges: (N,) int64 index of the labelled range that labels the window.
        end_s: (N,) float64 video time of each window's last sample, the moment its prediction belongs to.
        run_names: the results folders, in order of first use.
    """

    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, WINDOW, NUM_JOINTS, 3), dtype=np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    runs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ranges: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    end_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    run_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> LabelledWindows:
        """The windows at `index` (indices or boolean mask)."""
        return LabelledWindows(self.keypoints[index], self.labels[index], self.runs[index], self.ranges[index],
                               self.end_s[index], self.run_names)

    def per_class(self) -> dict[str, int]:
        """Windows per class name (classes without any left out)."""
        counts = np.bincount(self.labels, minlength=len(CLASSES))
        return {name: int(n) for name, n in zip(CLASSES, counts, strict=True) if n}


@dataclass
class RunTracks:
    """The people of one analysed run, rebuilt from its keypoints.csv and the frame times in frames.csv.

    Attributes:
        folder: the results folder.
        times: (T,) start time of every video frame, seconds.
        tracks: person id -> track over the video's frames (as the pipeline handed it to the classifier).
    """

    folder: Path
    times: np.ndarray
    tracks: dict[int, PersonTrack]

    @property
    def duration_s(self) -> float:
        """When the last frame stops showing."""
        if len(self.times) < 2:
            return float(self.times[-1]) if len(self.times) else 0.0
        return float(self.times[-1] + np.median(np.diff(self.times)))


def load_run_tracks(folder: Path) -> RunTracks:
    """Read a results folder's people back as tracks.

    Raises:
        LabelError: the folder has no keypoints.csv or frames.csv, or they cannot be read.
    """
    folder = Path(folder)
    for name in (KEYPOINTS_FILE, FRAMES_FILE):
        if not (folder / name).is_file():
            raise LabelError(f"{folder} has no {name}; give a results folder written by `python -m har_core analyze`.")
    try:
        frames = pd.read_csv(folder / FRAMES_FILE, usecols=["frame", "time_s"])
        keypoints = pd.read_csv(folder / KEYPOINTS_FILE, usecols=["frame", "person_id", "joint", "x", "y", "score"])
    except (OSError, ValueError) as exc:
        raise LabelError(f"Cannot read the results in {folder}: {exc}.") from exc
    by_frame = frames.drop_duplicates("frame").sort_values("frame")
    times = np.zeros(int(by_frame["frame"].max()) + 1 if len(by_frame) else 0)
    times[by_frame["frame"].to_numpy()] = by_frame["time_s"].to_numpy()
    joint = keypoints["joint"].map(JOINT_INDEX)
    if joint.isna().any() or (len(keypoints) and keypoints["frame"].max() >= len(times)):
        raise LabelError(f"The keypoints in {folder} do not match its frames.csv (see docs/outputs.md).")
    tracks = {}
    for person_id, rows in keypoints.assign(joint=joint.astype(int)).groupby("person_id"):
        frame = rows["frame"].to_numpy()
        first, last = int(frame.min()), int(frame.max())
        track = np.zeros((last - first + 1, NUM_JOINTS, 3), dtype=np.float32)
        track[frame - first, rows["joint"].to_numpy()] = rows[["x", "y", "score"]].to_numpy(dtype=np.float32)
        detected = np.zeros(last - first + 1, dtype=bool)
        detected[frame - first] = True
        tracks[int(person_id)] = PersonTrack(int(person_id), first, track, detected)
    return RunTracks(folder, times, tracks)


def check_range(labelled: LabelledRange, run: RunTracks) -> None:
    """Refuse a range with an unknown class, for a person not in the run, or not inside the clip."""
    if labelled.label not in CLASSES:
        raise LabelError(f"Unknown label {labelled.label!r}; use one of {', '.join(CLASSES)}.")
    if labelled.person_id not in run.tracks:
        people = ", ".join(str(p) for p in sorted(run.tracks)) or "nobody"
        raise LabelError(f"Person {labelled.person_id} is not in {run.folder} (people there: {people}).")
    if not (math.isfinite(labelled.start_s) and math.isfinite(labelled.end_s)) or labelled.start_s >= labelled.end_s:
        raise LabelError(f"The range {labelled.start_s:g}-{labelled.end_s:g} s must start before it ends.")
    if labelled.start_s < 0 or labelled.end_s > run.duration_s + LABEL_SLACK_S:
        raise LabelError(f"The range {labelled.start_s:g}-{labelled.end_s:g} s is outside the clip in {run.folder} "
                         f"(0-{run.duration_s:.2f} s).")


def labelled_seconds(ranges: list[LabelledRange]) -> float:
    """Total length of the ranges (overlaps counted twice): what sizes the fine-tuning work."""
    return float(sum(r.end_s - r.start_s for r in ranges))


def labelled_windows(ranges: list[LabelledRange], every: int = 1) -> LabelledWindows:
    """Cut the windows the ranges label from their runs' keypoints, every `every`-th sample of each track.

    Args:
        ranges: the labelled ranges (runs are read once each).
        every: keep the windows ending on every `every`-th sample (1 = every stride-1 window); long
            footage is thinned so that an hour of labels stays a few thousand windows, neighbours being
            nearly identical anyway.
    Raises:
        LabelError: a range fails `check_range`, or a results folder cannot be read.
    """
    runs: dict[Path, RunTracks] = {}
    names: list[str] = []
    chosen: dict[tuple[int, int], np.ndarray] = {}  # (run, person) -> label per sample (-1 unlabelled)
    range_of: dict[tuple[int, int], np.ndarray] = {}
    sampled_at: dict[tuple[int, int], np.ndarray] = {}
    for index, labelled in enumerate(ranges):
        folder = Path(labelled.results)
        if folder not in runs:
            runs[folder] = load_run_tracks(folder)
            names.append(str(folder))
        run = runs[folder]
        check_range(labelled, run)
        track = run.tracks[labelled.person_id]
        times = sample_times(run.times[track.first_frame : track.last_frame + 1])
        key = (list(runs).index(folder), labelled.person_id)
        if key not in chosen:
            chosen[key] = np.full(len(times), -1, dtype=np.int64)
            range_of[key] = np.full(len(times), -1, dtype=np.int64)
            sampled_at[key] = times
        inside = (times >= labelled.start_s) & (times <= labelled.end_s)
        chosen[key][inside] = CLASSES.index(labelled.label)
        range_of[key][inside] = index
    parts = []
    for (run_index, person_id), per_sample in chosen.items():
        track = runs[Path(names[run_index])].tracks[person_id]
        sampled, _ = sampled_track(track, runs[Path(names[run_index])].times)
        indices, windows = track_windows(sampled)
        ends = indices + WINDOW - 1
        keep = (per_sample[ends] >= 0) & (ends % max(every, 1) == 0)
        indices, ends = indices[keep], ends[keep]
        key = (run_index, person_id)
        parts.append(LabelledWindows(np.ascontiguousarray(windows[indices]), per_sample[ends],
                                     np.full(len(ends), run_index), range_of[key][ends], sampled_at[key][ends], names))
    if not parts:
        return LabelledWindows(run_names=names)
    return LabelledWindows(*(np.concatenate([getattr(p, name) for p in parts])
                             for name in ("keypoints", "labels", "runs", "ranges", "end_s")), run_names=names)


def store_ranges(store: RunStore) -> list[LabelledRange]:
    """Every labelled range in the run store whose run is finished, pointing at that run's results folder."""
    done = {record.id for record in store.list_runs(RunStatus.DONE)}
    return [LabelledRange(store.results_dir(label.run_id), label.person_id, label.start_s, label.end_s, label.label)
            for label in store.labels() if label.run_id in done]


def read_labels_csv(path: Path) -> list[LabelledRange]:
    """Parse LABELS.csv (columns LABEL_COLUMNS; `results` relative to the CSV's folder unless absolute).

    Raises:
        LabelError: missing file or columns, a value that is not a number, or an unknown label.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = tuple(rows[0].keys()) if rows else ()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelError(f"Cannot read the labels file {path}: {exc}.") from exc
    missing = [name for name in LABEL_COLUMNS if name not in header]
    if not rows or missing:
        raise LabelError(f"The labels file {path} needs a header with {', '.join(LABEL_COLUMNS)} and at least one "
                         f"row{f' (missing {missing[0]})' if rows else ''}.")
    ranges = []
    for line, row in enumerate(rows, start=2):
        label = (row["label"] or "").strip()
        if label not in CLASSES:
            raise LabelError(f"{path.name} line {line}: unknown label {label!r}; use one of {', '.join(CLASSES)}.")
        try:
            person_id, start_s, end_s = int(row["person_id"]), float(row["start_s"]), float(row["end_s"])
        except (TypeError, ValueError) as exc:
            raise LabelError(f"{path.name} line {line}: person_id, start_s and end_s must be numbers.") from exc
        results = Path((row["results"] or "").strip())
        ranges.append(LabelledRange(results if results.is_absolute() else path.parent / results, person_id,
                                    start_s, end_s, label))
    return ranges


def write_labels_csv(ranges: list[LabelledRange], path: Path) -> None:
    """Write ranges as LABELS.csv (what the dashboard hands to a fine-tuning job, and a user can edit)."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(r.to_dict() for r in ranges)
