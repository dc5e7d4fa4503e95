"""Long-clip memory benchmark (issue 5): peak memory of a 10-minute analysis against a 10-second one.

The pipeline streams end to end (decode, pose, render and encode hold a few frames each; only keypoints and
per-frame probabilities grow with the video), so analysing a 10-minute 640x480 clip should need at most
1.5x the peak memory of a 10-second clip. This script generates both clips (a rendered figure waving in
front of a tiled floor: a 2-second loop, so making 10 minutes costs only its encoding), caches them, runs
`pipeline.analyze` with default settings on each in a fresh process, and prints both peak RSS figures and
their ratio. Exit status 1 when the ratio is above the target.

    python -m bench.memory                      # from the repository root: 10 min vs 10 s, clips cached
    python -m bench.memory --long-s 60 --input-size 128    # a quicker look

Peak RSS is the child's VmHWM (Linux), the high-water mark of its own resident memory; `ru_maxrss` would be
wrong here because it carries the parent's peak across fork and exec.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from har_core.video import H264Writer
from models.synth.scenes import PersonSpec, group_camera, render_scene
from tests.reliability_corpus import waving

REPO = Path(__file__).resolve().parent.parent
SIZE = (640, 480)
FPS = 30
LOOP_S = 2.0  # three periods of the 1.5 Hz wave: the loop joins without a jump
TARGET_RATIO = 1.5

CHILD = """
import json, sys, time
from pathlib import Path
from har_core.pipeline import AnalysisSettings, analyze

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

started = time.perf_counter()
result = analyze(Path(sys.argv[1]), Path(sys.argv[2]), AnalysisSettings(input_size=int(sys.argv[3])))
print(json.dumps({"frames": result.frames, "people": len(result.people), "wall_s": time.perf_counter() - started,
                  "peak_mb": peak_mb()}))
"""


@dataclass(frozen=True)
class Measurement:
    """One analysis in a fresh process."""

    clip: Path
    frames: int
    people: int
    wall_s: float
    peak_mb: float


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "har-dashboard" / "bench"


def make_clip(path: Path, seconds: float) -> Path:
    """Write (once) `seconds` of the looped waving figure at 640x480, 30 fps, as H.264."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    loop_frames = round(LOOP_S * FPS)
    camera = group_camera(SIZE, span=1.0)
    loop = [frame.image for frame in render_scene([PersonSpec(waving(loop_frames, FPS))], camera, FPS, LOOP_S,
                                                  background="floor", seed=0)]
    with H264Writer(path, FPS) as writer:  # renames into place only when complete, so the cache is never partial
        for index in range(round(seconds * FPS)):
            writer.write(loop[index % loop_frames])
    return path


def measure(clip: Path, input_size: int) -> Measurement:
    """Analyse `clip` in a fresh Python process and return its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="har-bench-") as scratch:
        run = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(Path(scratch) / "out"), str(input_size)],
                             capture_output=True, text=True, cwd=REPO, check=False)
    if run.returncode != 0:
        raise SystemExit(f"analysis of {clip} failed:\n{run.stderr}")
    values = json.loads(run.stdout.strip().splitlines()[-1])
    return Measurement(clip, values["frames"], values["people"], values["wall_s"], values["peak_mb"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-s", type=float, default=600.0, help="length of the long clip (default 10 min)")
    parser.add_argument("--short-s", type=float, default=10.0, help="length of the short clip")
    parser.add_argument("--input-size", type=int, default=256, help="MoveNet input size (the app's default: 256)")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where the generated clips are kept")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    clips = [make_clip(args.cache / f"wave-{seconds:g}s-{SIZE[0]}x{SIZE[1]}.mp4", seconds)
             for seconds in (args.short_s, args.long_s)]
    print(f"clips ready in {time.perf_counter() - started:.0f} s ({args.cache})", flush=True)
    short, long = (measure(clip, args.input_size) for clip in clips)
    for label, m in (("short", short), ("long", long)):
        print(f"{label:5s} {m.frames:6d} frames  {m.people} person(s)  {m.wall_s:7.1f} s  peak RSS {m.peak_mb:7.1f} MB"
              f"  ({m.clip.name})")
    ratio = long.peak_mb / short.peak_mb
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"peak RSS ratio long/short: {ratio:.2f} (target <= {TARGET_RATIO}): {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
