"""The data files of a run: frames.csv, keypoints.csv, summary.json (schemas: docs/outputs.md).

Writers stream rows with the csv module as the pipeline produces them, so no whole-video table is ever
built in memory; `load_results` reads a finished run folder back as pandas frames for the dashboard.
Any OS failure while writing (disk full, quota, file size limit) becomes a one-line `OutputError`; the
pipeline writes into a staging folder, so such a failure never leaves a half-written result behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Self

import numpy as np
import pandas as pd

from har_core.errors import OutputError
from har_core.poses import Poses
from har_core.skeleton import CLASSES, JOINT_NAMES, NUM_JOINTS
from har_core.timeline import PersonTimeline

VIDEO_FILE = "annotated.mp4"
FRAMES_FILE = "frames.csv"
KEYPOINTS_FILE = "keypoints.csv"
SUMMARY_FILE = "summary.json"
OUTPUT_FILES = (VIDEO_FILE, FRAMES_FILE, KEYPOINTS_FILE, SUMMARY_FILE)

PROB_COLUMNS = tuple(f"p_{name}" for name in CLASSES)
FRAME_COLUMNS = ("frame", "time_s", "person_id", *PROB_COLUMNS, "label")
KEYPOINT_COLUMNS = ("frame", "time_s", "person_id", "joint", "x", "y", "score")
SCHEMA_VERSION = 1
_VERSIONED_PACKAGES = ("har-dashboard", "numpy", "torch", "av", "ai-edge-litert", "openvino", "opencv-python-headless")
_CHUNK_FRAMES = 2048


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OS failure while writing `path` into the one-line OutputError users see."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"Cannot write {path.name}: {exc.strerror or exc}.") from exc


def _open_csv(path: Path, header: tuple[str, ...]) -> tuple[IO[str], Any]:
    """Open a CSV for writing with its header."""
    with _writing(path):
        handle = path.open("w", newline="", encoding="utf-8")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
    return handle, writer


class KeypointsWriter:
    """Streams keypoints.csv: one row per frame, person and joint (all 17 joints, whatever their score)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle, self._writer = _open_csv(path, KEYPOINT_COLUMNS)

    def write(self, frame: int, time_s: float, poses: Poses) -> None:
        """Append the rows of one frame's tracked people."""
        if len(poses) == 0:
            return
        prefix = [frame, f"{time_s:.4f}"]
        xy = np.char.mod("%.2f", poses.keypoints[..., :2]).tolist()
        scores = np.char.mod("%.3f", poses.keypoints[..., 2]).tolist()
        ids = poses.track_ids.tolist()
        with _writing(self._path):
            self._writer.writerows(
                [*prefix, ids[p], JOINT_NAMES[j], xy[p][j][0], xy[p][j][1], scores[p][j]]
                for p in range(len(ids))
                for j in range(NUM_JOINTS)
            )

    def close(self) -> None:
        """Flush and close; the last buffered rows can still meet a full disk here."""
        with _writing(self._path):
            self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self.close()
            return
        with contextlib.suppress(OSError):  # already failing: the error in flight is the one to report
            self._handle.close()


def write_frames_csv(path: Path, timelines: list[PersonTimeline], times: np.ndarray) -> int:
    """Write frames.csv: a row for every frame of the video for every person, frame-major.

    Probabilities are empty where the person has no prediction (label NO_WINDOW or ABSENT). Formatting is
    vectorised a chunk of frames at a time. Returns the number of rows written.
    """
    handle, writer = _open_csv(path, FRAME_COLUMNS)
    rows = 0
    with _writing(path), handle:
        for start in range(0, len(times), _CHUNK_FRAMES):
            stop = min(start + _CHUNK_FRAMES, len(times))
            time_text = np.char.mod("%.4f", times[start:stop]).tolist()
            people = [
                (
                    timeline.person_id,
                    np.where(np.isnan(timeline.probs[start:stop]), "",
                             np.char.mod("%.4f", timeline.probs[start:stop])).tolist(),
                    timeline.labels[start:stop].tolist(),
                )
                for timeline in timelines
            ]
            writer.writerows(
                [start + i, time_text[i], person_id, *probs[i], labels[i]]
                for i in range(stop - start)
                for person_id, probs, labels in people
            )
            rows += (stop - start) * len(people)
    return rows


def people_records(timelines: list[PersonTimeline], primary_id: int | None) -> list[dict]:
    """summary.json `people`: id, frames present, first/last frame seen, primary flag."""
    records = []
    for timeline in timelines:
        seen = np.flatnonzero(timeline.detected)
        records.append({
            "person_id": timeline.person_id,
            "frames_present": len(seen),
            "first_frame": int(seen[0]) if len(seen) else None,
            "last_frame": int(seen[-1]) if len(seen) else None,
            "primary": timeline.person_id == primary_id,
        })
    return records


def segment_records(timelines: list[PersonTimeline]) -> list[dict]:
    """summary.json `segments`: every person's segments, in person then time order."""
    return [
        {
            "person_id": s.person_id,
            "label": s.label,
            "start_frame": s.start_frame,
            "end_frame": s.end_frame,
            "start_s": round(s.start_s, 4),
            "end_s": round(s.end_s, 4),
            "mean_confidence": s.mean_confidence,
        }
        for timeline in timelines
        for s in timeline.segments
    ]


def package_versions() -> dict[str, str | None]:
    """Versions that decide what a run produces, so a summary says what made it."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_summary(path: Path, summary: dict) -> None:
    """Write summary.json (pretty, UTF-8), stamping the schema version."""
    with _writing(path):
        path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, **summary}, indent=2) + "\n",
                        encoding="utf-8")


@dataclass
class RunResults:
    """A finished run read back from its folder.

    Attributes:
        frames: frames.csv (probability columns NaN where there is no prediction).
        keypoints: keypoints.csv.
        summary: summary.json as a dict.
        video: path of annotated.mp4.
    """

    frames: pd.DataFrame
    keypoints: pd.DataFrame
    summary: dict
    video: Path


def load_results(folder: Path) -> RunResults:
    """Read a run folder written by `pipeline.analyze`.

    Raises:
        OutputError: a file is missing or unreadable (the folder is not a complete run).
    """
    folder = Path(folder)
    missing = [name for name in OUTPUT_FILES if not (folder / name).is_file()]
    if missing:
        raise OutputError(f"{folder} is not a complete analysis (missing {', '.join(missing)}).")
    try:
        frames = pd.read_csv(
            folder / FRAMES_FILE,
            dtype={"frame": np.int64, "time_s": np.float64, "person_id": np.int64, "label": str,
                   **dict.fromkeys(PROB_COLUMNS, np.float64)},
            keep_default_na=False, na_values={name: [""] for name in PROB_COLUMNS},
        )
        keypoints = pd.read_csv(
            folder / KEYPOINTS_FILE,
            dtype={"frame": np.int64, "time_s": np.float64, "person_id": np.int64, "joint": str,
                   "x": np.float32, "y": np.float32, "score": np.float32},
        )
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"Cannot read the results in {folder}: {exc}.") from exc
    if tuple(frames.columns) != FRAME_COLUMNS or tuple(keypoints.columns) != KEYPOINT_COLUMNS:
        raise OutputError(f"The results in {folder} do not have the expected columns (see docs/outputs.md).")
    return RunResults(frames=frames, keypoints=keypoints, summary=summary, video=folder / VIDEO_FILE)
