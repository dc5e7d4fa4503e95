"""Fine-tuning time for a lot of labelled footage (issue 21's target: an hour in 3 minutes or less on 2 cores).

Labelled footage is made without video: procedural clips of random classes, filmed by random cameras with the
pose estimator's error model at 30 fps (`models.synth.dataset.film`), written as results folders holding the
two files fine-tuning reads (keypoints.csv, frames.csv), each clip labelled whole by its true per-frame
classes. Then `models.finetune.finetune` runs with its default configuration, as `python -m models.finetune`
would, and the script prints the wall time of each stage and the peak memory.

    python -m bench.finetune                  # an hour of labels in 60 one-minute runs (writing them: ~1 min)
    python -m bench.finetune --minutes 5      # a quicker look
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from har_core.outputs import KeypointsWriter
from har_core.pipeline import Progress
from har_core.poses import Poses
from har_core.skeleton import CLASSES
from har_core.user_labels import LabelledRange
from models.finetune import FinetuneConfig, finetune, summary_lines
from models.synth import procedural
from models.synth.dataset import film

FPS = 30.0


def write_run(folder: Path, seed: int, seconds: float) -> list[LabelledRange]:
    """One run of one person doing procedural motion; returns its labelled ranges (one per run of a class)."""
    rng = np.random.default_rng([seed, 21])
    motion = procedural.random_clip(rng, int(rng.integers(len(CLASSES))), FPS, duration=seconds)
    keypoints, labels, _ = film(motion, rng, fps=FPS)
    folder.mkdir(parents=True)
    times = np.arange(len(keypoints)) / FPS
    with KeypointsWriter(folder / "keypoints.csv") as writer:
        for frame, points in enumerate(keypoints):
            if points[:, 2].any():
                writer.write(frame, float(times[frame]), Poses(points[None], np.zeros((1, 4), np.float32),
                                                               np.ones(1, np.float32), np.zeros(1, np.int64)))
    lines = "\n".join(f"{frame},{time_s:.4f}" for frame, time_s in enumerate(times))
    (folder / "frames.csv").write_text(f"frame,time_s\n{lines}\n")
    change = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.concatenate([[0], change]), np.concatenate([change, [len(labels)]])
    return [LabelledRange(folder, 0, float(times[s]), float(times[e - 1]) + 1 / FPS, CLASSES[labels[s]])
            for s, e in zip(starts, ends, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="labelled footage in all")
    parser.add_argument("--run-seconds", type=float, default=60.0, help="length of each labelled run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="har-bench-finetune-") as work:
        started = time.perf_counter()
        runs = max(1, round(args.minutes * 60 / args.run_seconds))
        ranges = [r for k in range(runs) for r in write_run(Path(work) / f"run{k:03d}", k, args.run_seconds)]
        print(f"wrote {runs} runs, {len(ranges)} labelled ranges in {time.perf_counter() - started:.0f} s")
        stages: dict[str, float] = {}
        clock = [time.perf_counter(), ""]

        def progress(report: Progress) -> None:
            stage = report.stage.split(" ")[0]
            if stage != clock[1]:
                now = time.perf_counter()
                if clock[1]:
                    stages[clock[1]] = stages.get(clock[1], 0.0) + now - clock[0]
                clock[:] = [now, stage]

        started = time.perf_counter()
        result = finetune(ranges, Path(work) / "model", config=FinetuneConfig(), progress=progress)
        total = time.perf_counter() - started
        stages[clock[1]] = stages.get(clock[1], 0.0) + time.perf_counter() - clock[0]
    print("\n".join(summary_lines(result)))
    print(f"fine-tuning took {total:.0f} s in all: " + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
