"""Batch throughput (issue 18): the same clips through `batch` with 1 and 2 workers, against `analyze` in a loop.

    python bench/batch.py                  # 8 rendered clips of 6 s, 640x480 (a few minutes on 2 cores)
    python bench/batch.py --clips 4 --seconds 3
    python bench/batch.py --repeat 3       # the three ways in turn, three times (for a machine shared with others)

Each way runs as a user would run it, as a command in a fresh process with a fresh output folder:
`python -m har_core analyze` once per clip one after another, then `python -m har_core batch` on all the
clips with `--workers 1` and `--workers 2` (each starting and stopping its own local Ray, which is
counted). Printed per way: wall seconds and throughput in video seconds per wall second; with --repeat,
each run and then the median of each way.
Clips are rendered figures doing procedural actions (`models.synth`), made once and cached.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python bench/batch.py` puts bench/ on the path, not the repository root

from bench.run import FPS, default_cache  # after the path is set above

SIZE = (640, 480)
CLIP_VERSION = 1  # bump when the clip recipe changes, so cached clips are remade


def make_clips(count: int, seconds: float, cache: Path) -> list[Path]:
    """Render (once) `count` different clips: one or two people, each doing a procedural action."""
    import numpy as np

    from har_core.skeleton import NUM_CLASSES
    from models.synth.procedural import random_clip
    from models.synth.scenes import PersonSpec, group_camera, write_scene_video

    clips = []
    for index in range(count):
        path = cache / f"batch-{SIZE[0]}x{SIZE[1]}-{seconds:g}s-{index}-v{CLIP_VERSION}.mp4"
        clips.append(path)
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(index)
        people = 1 + index % 2
        offsets = (np.arange(people) - (people - 1) / 2) * 1.5
        specs = [PersonSpec(random_clip(rng, (index + i) % NUM_CLASSES, FPS, seconds), path=((0.0, float(x), 0.0),))
                 for i, x in enumerate(offsets)]
        write_scene_video(path, specs, group_camera(SIZE, span=1.0 + 1.5 * (people - 1)), FPS, seconds,
                          background="floor", seed=index)
    return clips


def timed(commands: list[list[str]]) -> float:
    """Wall seconds to run `commands` one after another (each must succeed)."""
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--repeat", type=int, default=1, help="run the ways in turn this many times")
    args = parser.parse_args(argv)
    clips = make_clips(args.clips, args.seconds, args.cache)
    video_s = args.clips * args.seconds
    python = [sys.executable, "-m", "har_core"]
    with tempfile.TemporaryDirectory(prefix="har-bench-batch-") as folder:
        out = Path(folder)
        ways = {
            "analyze, one clip after another": [[*python, "analyze", str(clip), "--out", str(out / "seq" / clip.stem),
                                                 "--quiet"] for clip in clips],
            "batch --workers 1": [[*python, "batch", *map(str, clips), "--out", str(out / "w1"), "--workers", "1",
                                   "--quiet"]],
            "batch --workers 2": [[*python, "batch", *map(str, clips), "--out", str(out / "w2"), "--workers", "2",
                                   "--quiet"]],
        }
        print(f"{args.clips} clips of {args.seconds:g} s ({SIZE[0]}x{SIZE[1]}, 30 fps, 1-2 people), "
              f"{video_s:g} s of video")
        walls: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.repeat):
            for way, commands in ways.items():
                shutil.rmtree(out, ignore_errors=True)  # every run starts from empty output folders
                walls[way].append(timed(commands))
                print(f"{way:34s} {walls[way][-1]:7.1f} s wall  {video_s / walls[way][-1]:5.2f} video s per wall s",
                      flush=True)
        if args.repeat > 1:
            print("median:")
            for way, times in walls.items():
                wall = statistics.median(times)
                print(f"{way:34s} {wall:7.1f} s wall  {video_s / wall:5.2f} video s per wall s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
