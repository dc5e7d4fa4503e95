"""How fast the live step keeps up with a camera: per-frame time and the frame rate it sustains.

    python -m bench.live                      # 640x480, one and three people, 150 frames each, on 2 cores
    python -m bench.live --frames 60 --cores 0   # shorter, on every core

Frames of rendered figures waving one hand (`models.synth.scenes`, 30 fps timestamps) are made first and
kept in memory, then go one after another through `LiveRecognizer.step` (pose, tracking, classifier-rate
sampling, features, LSTM) and `annotate` (what the Live page sends back), as fast as they will go. Printed
per case: the step's median and 95th-percentile milliseconds, the same with drawing, and the processed
frames per second sustained over the run (frames / wall time). The first frames (model warm-up) are
left out. Targets from issue 19: at least 15 processed frames/s for one person, median step under 60 ms.
Under `--cores N` the process is pinned to N cores and the pose model gets N threads (torch gets one,
as `LiveSettings` says).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np

from har_core.live import LiveRecognizer, LiveSettings
from models.synth.scenes import PersonSpec, group_camera, render_scene
from tests.reliability_corpus import waving

SIZE = (640, 480)
FPS = 30.0
WARM_UP_FRAMES = 10
SPACING_M = 1.4


@dataclass
class CaseFigures:
    """One case's timings: milliseconds per frame (step alone and step + drawing), and frames per second."""

    people: int
    frames: int
    found: float  # mean people tracked per timed frame
    step_ms: np.ndarray
    total_ms: np.ndarray
    fps: float

    def line(self) -> str:
        median, p95 = np.percentile(self.step_ms, [50, 95])
        total_median, total_p95 = np.percentile(self.total_ms, [50, 95])
        return (f"| {self.people} | {self.found:.2f} | {self.frames} | {median:.1f} | {p95:.1f} | {total_median:.1f} | {total_p95:.1f} "
                f"| {self.fps:.1f} |")


def scene_frames(people: int, frames: int) -> list[np.ndarray]:
    """`people` waving figures side by side at 640x480."""
    specs = [PersonSpec(waving(frames, FPS), path=((0.0, SPACING_M * (i - (people - 1) / 2), 0.0),))
             for i in range(people)]
    camera = group_camera(SIZE, span=1.0 + SPACING_M * (people - 1))
    return [frame.image for frame in render_scene(specs, camera, FPS, frames / FPS, background="floor", seed=people)]


def run_case(people: int, frames: int, threads: int) -> CaseFigures:
    images = scene_frames(people, frames + WARM_UP_FRAMES)
    live = LiveRecognizer(LiveSettings(pose_threads=threads))
    step_ms, total_ms, found = [], [], []
    started = 0.0
    for index, image in enumerate(images):
        if index == WARM_UP_FRAMES:
            started = time.perf_counter()
        begun = time.perf_counter()
        result = live.step(image, index / FPS)
        stepped = time.perf_counter()
        live.annotate(image, result)
        if index >= WARM_UP_FRAMES:
            found.append(len(result.poses))
            step_ms.append(1000 * (stepped - begun))
            total_ms.append(1000 * (time.perf_counter() - begun))
    wall = time.perf_counter() - started
    return CaseFigures(people, frames, float(np.mean(found)), np.array(step_ms), np.array(total_ms), frames / wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="frames timed per case (after 10 warm-up frames)")
    parser.add_argument("--people", default="1,3", help="comma-separated people counts, one case each")
    parser.add_argument("--cores", type=int, default=2, help="pin to this many cores (0: all)")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    if args.cores:
        cores = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cores)
        threads = len(cores)
    print(f"live step at {SIZE[0]}x{SIZE[1]}, {threads} cores/threads, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print("| people | tracked per frame | frames | step median ms | step p95 ms | with drawing median ms | with drawing p95 ms "
          "| processed frames/s |")
    print("|---|---|---|---|---|---|---|---|")
    for people in (int(n) for n in args.people.split(",")):
        print(run_case(people, args.frames, threads).line(), flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
