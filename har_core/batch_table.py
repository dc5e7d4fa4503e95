"""batch.csv: one row per input video of a batch, appended as each video finishes.

Appending row by row (flushed and synced) is what makes a killed batch leave a truthful partial table: every
row in it is a video whose outcome is final. `summarize_batch` reads a table back into the figures the
Runs page and the CLI show (videos, failures, time per action across videos).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

import pandas as pd

from har_core.errors import OutputError
from har_core.jobs import action_seconds
from har_core.skeleton import CLASSES

BATCH_FILE = "batch.csv"
ACTION_COLUMNS = tuple(f"s_{name}" for name in CLASSES)
COLUMNS = ("video", "name", "status", "error", "duration_s", "frames", "people", "dominant_action",
           *ACTION_COLUMNS, "analysis_s")
DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass
class VideoRow:
    """One input's outcome. A failed row has only video, name, status and error; the rest stays empty."""

    video: str
    name: str
    status: str
    error: str = ""
    duration_s: float | None = None
    frames: int | None = None
    people: int | None = None
    dominant_action: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # action class -> seconds, summed over people
    analysis_s: float | None = None  # wall time of the analysis; empty for a skipped video (none was run)

    @classmethod
    def from_summary(cls, video: str, name: str, status: str, summary: dict,
                     analysis_s: float | None = None) -> VideoRow:
        """The row of a finished video, from its summary.json."""
        seconds = action_seconds(summary)
        info = summary.get("video") or {}
        return cls(video=video, name=name, status=status, duration_s=info.get("duration_s"),
                   frames=info.get("frames_decoded"), people=len(summary.get("people") or []),
                   dominant_action=seconds.most_common(1)[0][0] if seconds else "",
                   seconds=dict(seconds), analysis_s=analysis_s)

    @classmethod
    def failed(cls, video: str, name: str, error: str) -> VideoRow:
        """A video that could not be analysed; the error is kept to one line."""
        return cls(video=video, name=name, status=FAILED, error=" ".join(error.split()))

    def values(self) -> list[object]:
        """The row's cells in COLUMNS order (empty string for a missing value)."""
        def cell(value: float | None, digits: int = 3) -> object:
            return "" if value is None else round(value, digits)

        analysed = self.status != FAILED
        return [self.video, self.name, self.status, self.error, cell(self.duration_s), cell(self.frames),
                cell(self.people), self.dominant_action,
                *(cell(self.seconds.get(name, 0.0) if analysed else None) for name in CLASSES),
                cell(self.analysis_s)]


class BatchTableWriter:
    """Writes batch.csv: the header when opened (replacing the previous batch's table), then one row per
    `append`, synced to disk at once so the table survives the batch being killed."""

    def __init__(self, path: Path) -> None:
        try:
            self._handle: IO[str] = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        self.path = path
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._write(COLUMNS)

    def _write(self, cells: list[object] | tuple[str, ...]) -> None:
        try:
            self._writer.writerow(cells)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise OutputError(f"Cannot write {self.path}: {exc.strerror or exc}.") from exc

    def append(self, row: VideoRow) -> None:
        self._write(row.values())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_batch_table(path: Path) -> pd.DataFrame:
    """A batch.csv as a DataFrame (error and dominant_action as text, empty where missing)."""
    table = pd.read_csv(path, dtype={"video": str, "name": str, "status": str, "error": str,
                                     "dominant_action": str}, keep_default_na=False, na_values={
                                         column: [""] for column in COLUMNS
                                         if column not in ("video", "name", "status", "error", "dominant_action")})
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise OutputError(f"{path.name} is not a batch table (no {missing[0]} column).")
    return table


@dataclass(frozen=True)
class BatchSummary:
    """A batch at a glance: how many videos, how they ended, and the time spent in each action overall.

    Attributes:
        videos, done, skipped, failed: row counts (skipped videos had a result already and count as done
            for the time per action).
        seconds: action class -> seconds summed over every analysed video (and its people).
        per_video: long table (video name, action, seconds) for a chart per video.
        failures: (video, error) of each failed row.
    """

    videos: int
    done: int
    skipped: int
    failed: int
    seconds: dict[str, float]
    per_video: pd.DataFrame
    failures: list[tuple[str, str]]


def summarize_batch(table: pd.DataFrame) -> BatchSummary:
    """Count a batch table's outcomes and add up its time per action."""
    analysed = table[table["status"] != FAILED]
    failed = table[table["status"] == FAILED]
    per_video = analysed.melt(id_vars=["name"], value_vars=list(ACTION_COLUMNS), var_name="action",
                              value_name="seconds")
    per_video["action"] = per_video["action"].str.removeprefix("s_")
    per_video = per_video[per_video["seconds"] > 0].reset_index(drop=True)
    return BatchSummary(
        videos=len(table), done=int((table["status"] == DONE).sum()), skipped=int((table["status"] == SKIPPED).sum()),
        failed=len(failed),
        seconds={name: float(analysed[f"s_{name}"].sum()) for name in CLASSES},
        per_video=per_video.rename(columns={"name": "video"}),
        failures=list(zip(failed["video"], failed["error"], strict=True)),
    )
