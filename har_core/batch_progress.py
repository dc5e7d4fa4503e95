"""Progress of a batch: what each running video's worker reports, and the batch-wide figures built from it.

Tasks report to a small Ray actor (`ProgressBoard`) that the driver reads. This module imports nothing
heavy (no torch, no PyAV), because the actor's process imports it: the board is then up in the time it
takes to import Ray, and the first reports are not held back behind the model libraries' imports.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ray

if TYPE_CHECKING:
    from har_core.pipeline import Progress

REPORT_EVERY_S = 0.5


@dataclass(frozen=True)
class WorkerState:
    """What one running video's worker last reported: which process on which node, at which stage, and its
    frames per second in that stage (over the stage so far)."""

    name: str
    pid: int
    node_id: str
    stage: str
    done: int
    total: int | None
    fps: float


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch is: videos finished (any outcome) of total, failures, videos being analysed, speed.

    `fps` is frames per second summed over the running workers (each at its current stage); `eta_s` is
    the time left at the rate videos have finished so far (None until one has). `running` holds the
    latest report of each video being analysed that has reported yet (reports can lag on busy cores).
    """

    finished: int
    total: int
    failed: int
    active: int
    fps: float
    eta_s: float | None
    running: tuple[WorkerState, ...]


@ray.remote(num_cpus=0)
class ProgressBoard:
    """Keeps the latest report of each video, for the driver to read (tasks cannot reach the driver)."""

    def __init__(self) -> None:
        self._states: dict[str, WorkerState] = {}

    def report(self, state: WorkerState) -> None:
        self._states[state.name] = state

    def snapshot(self) -> tuple[WorkerState, ...]:
        return tuple(self._states.values())


@dataclass
class TaskReporter:
    """A task's progress callback: sends its state to the board at most every 0.5 s and on stage changes.

    The speed is measured here, over the frames done since the stage began: the pipeline's own figure is
    meaningless at a stage's first report (a few frames over almost no time).
    """

    board: ray.actor.ActorHandle
    name: str
    node_id: str
    _last: float = 0.0
    _stage: str = ""
    _stage_start: tuple[float, int] = (0.0, 0)

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.stage != self._stage:
            self._stage, self._stage_start = progress.stage, (now, progress.done)
        elif now - self._last < REPORT_EVERY_S:
            return
        self._last = now
        started, done = self._stage_start
        fps = (progress.done - done) / (now - started) if now > started else 0.0
        self.board.report.remote(WorkerState(self.name, os.getpid(), self.node_id, progress.stage, progress.done,
                                             progress.total, round(fps, 1)))
