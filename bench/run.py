"""Speed benchmark (issue 6): the full pipeline on rendered clips, the classifier, and the original-shaped loop.

    python bench/run.py                   # the default cases, the classifier and the baseline (several minutes)
    python bench/run.py --cases all       # every size x people x length combination
    python bench/run.py --cases 640x480-1p-10s,1280x720-4p-10s --no-baseline
    python bench/run.py --quick           # a tiny clip, for a smoke test
    python bench/run.py --pose-every 1    # the pipeline with poses on every frame (default: auto, every 2nd)
    python bench/run.py --runtimes openvino --pose-workers 1   # one MoveNet frame at a time on every core

Every pipeline case runs once per MoveNet runtime (`--runtimes`, default openvino then litert), side by
side on the same clip in the same session, and the baseline once on the first runtime; each line names the
runtime with its workers, threads per worker, OpenVINO hint and precision, and the header and footer name
the CPU.

Clips are rendered figures (`models.synth.scenes`) doing procedural actions, made once and cached. Each
analysis runs `har_core.pipeline.analyze` with default settings in a fresh process, so its peak RSS
(VmHWM) is its own; the process also reports its CPU seconds, which say what the run would take on an idle
machine better than wall time does on a shared one. Printed per case: frames, wall time, end-to-end
frames per second, real-time factor (video duration / processing time), CPU seconds per frame, peak RSS
and the time of each stage. Then the classifier's throughput on every window of the longest analysed clip,
the baseline (`bench/baseline.py`) on the first case's clip with the ratios, and peak RSS of
the long clips against the short ones (memory should be flat in video length).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `python bench/run.py` puts bench/ on the path, not the repository root

FPS = 30.0
SPACING_M = 1.5  # metres between neighbouring people
CLIP_VERSION = 1  # bump when the clip recipe changes, so cached clips are remade


@dataclass(frozen=True)
class Case:
    """One benchmark clip: frame size, people in it, length."""

    width: int
    height: int
    people: int
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}-{self.people}p-{self.seconds:g}s"

    @classmethod
    def parse(cls, name: str) -> Case:
        """'640x480-1p-10s' -> Case(640, 480, 1, 10.0)."""
        try:
            size, people, seconds = name.split("-")
            width, height = size.split("x")
            return cls(int(width), int(height), int(people.removesuffix("p")), float(seconds.removesuffix("s")))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"a case looks like 640x480-1p-10s, not {name!r}") from exc


ALL_CASES = tuple(Case(w, h, p, s) for (w, h) in ((640, 480), (1280, 720)) for p in (1, 4) for s in (10.0, 60.0))
DEFAULT_CASES = (Case(640, 480, 1, 10.0), Case(640, 480, 1, 60.0), Case(1280, 720, 4, 10.0), Case(1280, 720, 4, 60.0))
QUICK_CASE = Case(320, 240, 1, 1.5)


def default_cache() -> Path:
    from har_core.pose.movenet_runtime import user_cache_dir  # after the path fix above

    return user_cache_dir() / "bench"


def make_clip(case: Case, cache: Path) -> Path:
    """Render (once) the clip of `case`: people side by side, each doing a different action, on a tiled floor."""
    import numpy as np

    from har_core.skeleton import NUM_CLASSES
    from models.synth.procedural import random_clip
    from models.synth.scenes import PersonSpec, group_camera, write_scene_video

    path = cache / f"{case.name}-v{CLIP_VERSION}.mp4"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(case.name))
    offsets = (np.arange(case.people) - (case.people - 1) / 2) * SPACING_M
    people = [PersonSpec(random_clip(rng, i % NUM_CLASSES, FPS, case.seconds), path=((0.0, float(x), 0.0),))
              for i, x in enumerate(offsets)]
    camera = group_camera((case.width, case.height), span=1.0 + SPACING_M * (case.people - 1))
    # H264Writer renames into place only when complete, so the cache never holds a partial clip.
    write_scene_video(path, people, camera, FPS, case.seconds, background="floor", seed=case.people)
    return path


# ---------------------------------------------------------------------------------------------------------
# Measurements, each run in a fresh process (`--child`), reporting one JSON line on stdout. Project modules
# are imported inside the functions: after the sys.path line above, and only in the process that needs them.


def _peak_rss_mb() -> float:
    """This process's high-water resident memory (Linux VmHWM; ru_maxrss elsewhere)."""
    status = Path("/proc/self/status")
    if status.is_file():
        return int(status.read_text().split("VmHWM:")[1].split()[0]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class ChildArgs:
    """What a measuring process is told: the clip, where to write, the settings that vary between runs."""

    video: Path
    out: Path
    device: str
    pose_every: int | None
    runtime: str
    pose_workers: int | None  # None: the pipeline's own `pose_workers(cpus)`


def _child_pipeline(args: ChildArgs, classifier: bool) -> dict:
    """Analyse the clip with default settings (but stride, runtime, workers); optionally time the classifier."""
    from har_core import pipeline
    from har_core.outputs import load_results

    if args.pose_workers is not None:
        # An experiment knob for this process only: MoveNet frames at once, cpus // workers threads each.
        pipeline.pose_workers = lambda cpus: args.pose_workers
    cpu, started = _cpu_s(), time.perf_counter()
    settings = pipeline.AnalysisSettings(device=args.device, pose_every=args.pose_every, pose_runtime=args.runtime)
    result = pipeline.analyze(args.video, args.out, settings)
    measured = {"frames": result.frames, "people": len(result.people), "wall_s": time.perf_counter() - started,
                "cpu_s": _cpu_s() - cpu, "peak_mb": _peak_rss_mb(), "duration_s": result.video.duration_s,
                "timings": result.timings, "runtime": load_results(args.out).summary["pose"]["runtime"]}
    return measured | (_classifier_throughput(args.out, args.device) if classifier else {})


def _classifier_throughput(run: Path, device: str, repeats: int = 3) -> dict:
    """Windows per second of `ActionClassifier.predict` (its own batching) on every window of a run's people."""
    import numpy as np
    import torch

    from har_core.classifier import ActionClassifier
    from har_core.features import track_features
    from har_core.outputs import load_results
    from har_core.skeleton import JOINT_NAMES, NUM_JOINTS

    keypoints = load_results(run).keypoints
    joint = keypoints["joint"].map({name: i for i, name in enumerate(JOINT_NAMES)}).to_numpy()
    n_frames = int(keypoints["frame"].max()) + 1
    tracks = []
    for person in keypoints["person_id"].unique():
        rows = (keypoints["person_id"] == person).to_numpy()
        track = np.zeros((n_frames, NUM_JOINTS, 3), dtype=np.float32)
        track[keypoints["frame"].to_numpy()[rows], joint[rows]] = keypoints.loc[rows, ["x", "y", "score"]].to_numpy()
        tracks.append(track)
    started = time.perf_counter()
    features = np.concatenate([track_features(track) for track in tracks])
    features_s = time.perf_counter() - started
    classifier = ActionClassifier.load(device=device)
    rates = {}
    for threads in (torch.get_num_threads(), 1):  # as shipped, then one intra-op thread
        torch.set_num_threads(threads)
        classifier.predict(features[:64])  # first call: lazy initialisation, not throughput
        rates[threads] = len(features) / min(_timed(classifier.predict, features) for _ in range(repeats))
    default_threads = next(iter(rates))
    return {"windows": len(features), "windows_per_s": rates[default_threads], "torch_threads": default_threads,
            "windows_per_s_1_thread": rates[1], "feature_windows_per_s": len(features) / features_s,
            "classifier_device": str(classifier.device)}


def _timed(function: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def _child_baseline(args: ChildArgs) -> dict:
    """The original-shaped loop on `args.runtime`; the stride is ignored because the original estimated every frame."""
    from bench.baseline import run_baseline

    cpu = _cpu_s()
    result = run_baseline(args.video, args.out / "baseline.mp4", device=args.device, runtime=args.runtime)
    return {"frames": result.frames, "wall_s": result.wall_s, "cpu_s": _cpu_s() - cpu, "peak_mb": _peak_rss_mb(),
            "timings": result.seconds, "runtime": result.runtime}


def measure(kind: str, video: Path, device: str, runtime: str, pose_every: int | None = None,
            pose_workers: int | None = None) -> dict:
    """Run one measurement (`pipeline`, `pipeline+classifier`, `baseline`) in a fresh Python process."""
    stride = "auto" if pose_every is None else str(pose_every)
    workers = "default" if pose_workers is None else str(pose_workers)
    with tempfile.TemporaryDirectory(prefix="har-bench-") as scratch:
        run = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind, str(video),
                              str(Path(scratch) / "out"), device, stride, runtime, workers], capture_output=True,
                             text=True, cwd=REPO, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{kind} run on {video.name} failed:\n{run.stderr[-4000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# Report.

STAGES = ("decode", "pose", "tracking", "actions", "render", "encode", "data_files", "pass1_wall", "pass2_wall")


def machine() -> dict:
    """What the figures were taken on: CPU, cores, load average, Python."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return {"cpu": model, "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version()}


def runtime_label(runtime: dict) -> str:
    """'openvino 2026.4.1, 2 workers x 1 thread, THROUGHPUT, f32': what ran MoveNet and how."""
    hint = f", {runtime['hint']}" if runtime["hint"] else ""
    return (f"{runtime['name']} {runtime['version']}, {runtime['workers']} worker{'s' * (runtime['workers'] > 1)} "
            f"x {runtime['threads']} thread{'s' * (runtime['threads'] > 1)}{hint}, {runtime['precision']}")


def case_line(case: Case, m: dict) -> str:
    """One case's figures. `CPU-bound` is the real-time factor the run's CPU time would allow if every core
    were the run's alone and fully used (duration / (CPU seconds / cores)): on a shared machine, a better
    guess at the idle machine's figure than the wall time, and an upper bound on it."""
    fps = m["frames"] / m["wall_s"]
    speed = m["duration_s"] / m["wall_s"]
    bound = m["duration_s"] / (m["cpu_s"] / (os.cpu_count() or 1))
    return (f"{case.name:18s} {m['runtime']['name']:9s} {m['frames']:6d} {m['wall_s']:8.1f} {fps:9.1f} "
            f"{speed:9.2f}x {bound:9.2f}x {1000 * m['cpu_s'] / m['frames']:11.1f} {m['peak_mb']:10.0f}   "
            f"[{runtime_label(m['runtime'])}]")


def stage_line(timings: dict) -> str:
    parts = [f"{name.removesuffix('_wall').replace('_', ' ')}{' (wall)' if name.endswith('_wall') else ''} "
             f"{timings[name]:.1f}" for name in STAGES if name in timings]
    return "    stage seconds (summed over threads): " + " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    from har_core.pose import RUNTIMES  # after the path fix above, like the children's imports
    from har_core.pose_stride import parse_pose_every

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=None,
                        help="comma-separated cases like 640x480-1p-10s, or 'all' (default: "
                             + ",".join(c.name for c in DEFAULT_CASES) + ")")
    parser.add_argument("--quick", action="store_true", help=f"only the tiny {QUICK_CASE.name} clip (smoke test)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the original-shaped baseline")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="torch device (LSTM)")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where the rendered clips are kept")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    parser.add_argument("--pose-every", type=parse_pose_every, default=None, metavar="auto|N",
                        help="the pipeline's pose stride, auto by default (the baseline estimates every frame)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES),
                        help=f"MoveNet runtimes to compare, comma-separated (default: {','.join(RUNTIMES)})")
    parser.add_argument("--pose-workers", type=int, default=None,
                        help="MoveNet frames at once, each on cores / N threads (default: the pipeline's own); "
                        "1 is OpenVINO's LATENCY hint, more its THROUGHPUT hint")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS,
                        metavar=("KIND", "VIDEO", "OUT", "DEVICE", "POSE_EVERY", "RUNTIME", "POSE_WORKERS"))
    args = parser.parse_args(argv)

    if args.child:
        kind, video, out, device, pose_every, runtime, workers = args.child
        child_args = ChildArgs(Path(video), Path(out), device, parse_pose_every(pose_every), runtime,
                               None if workers == "default" else int(workers))
        measured = (_child_baseline(child_args) if kind == "baseline"
                    else _child_pipeline(child_args, classifier=kind == "pipeline+classifier"))
        print(json.dumps(measured))
        return 0
    runtimes = args.runtimes.split(",")
    unknown = sorted(set(runtimes) - set(RUNTIMES))
    if unknown:
        parser.error(f"unknown runtime {unknown[0]!r}: choose from {', '.join(RUNTIMES)}")

    if args.quick:
        cases = [QUICK_CASE]
    elif args.cases == "all":
        cases = list(ALL_CASES)
    elif args.cases:
        cases = [Case.parse(name) for name in args.cases.split(",")]
    else:
        cases = list(DEFAULT_CASES)
    host = machine()
    print(f"machine: {host['cpu']}, {host['cores']} cores, load average {' '.join(map(str, host['load_average']))} "
          f"(1, 5, 15 min), Python {host['python']}", flush=True)

    started = time.perf_counter()
    clips = {case: make_clip(case, args.cache) for case in cases}
    print(f"clips ready in {time.perf_counter() - started:.0f} s ({args.cache})", flush=True)

    stride = "auto (about 15 a second: every 2nd frame at 30 fps)" if args.pose_every is None else args.pose_every
    print(f"pipeline: default settings, pose stride {stride}", flush=True)
    print(f"\n{'case':18s} {'runtime':9s} {'frames':>6s} {'wall s':>8s} {'frames/s':>9s} {'real-time':>10s} "
          f"{'CPU-bound':>10s} {'CPU ms/frame':>11s} {'peak RSS MB':>10s}")
    results: dict[str, dict[str, dict]] = {runtime: {} for runtime in runtimes}
    for case in cases:
        for runtime in runtimes:
            kind = "pipeline+classifier" if runtime == runtimes[0] else "pipeline"
            m = results[runtime][case.name] = measure(kind, clips[case], args.device, runtime, args.pose_every,
                                                      args.pose_workers)
            print(case_line(case, m))
            print(stage_line(m["timings"]), flush=True)

    first_runs = results[runtimes[0]]
    longest = max(cases, key=lambda c: (first_runs[c.name]["windows"], c.seconds))
    m = first_runs[longest.name]
    print(f"\nclassifier ({m['classifier_device']}): {m['windows']:,} windows of {longest.name} in batches: "
          f"{m['windows_per_s']:,.0f} windows/s with torch's {m['torch_threads']} threads, "
          f"{m['windows_per_s_1_thread']:,.0f} windows/s with 1 (features: {m['feature_windows_per_s']:,.0f} windows/s)")

    report: dict = {"machine": host, "runtimes": {
        runtime: {c.name: asdict(c) | results[runtime][c.name] for c in cases} for runtime in runtimes}}
    if not args.no_baseline:
        # On the first runtime (by default the shipped one): the same pose model and runtime, another loop.
        first = cases[0]
        base = measure("baseline", clips[first], args.device, runtimes[0])
        speedups = {runtime: base["wall_s"] / results[runtime][first.name]["wall_s"] for runtime in runtimes}
        cpu_ratios = {runtime: base["cpu_s"] / results[runtime][first.name]["cpu_s"] for runtime in runtimes}
        print(f"baseline (original-shaped, {first.name}) [{runtime_label(base['runtime'])}]: {base['frames']} "
              f"frames in {base['wall_s']:.1f} s, {base['frames'] / base['wall_s']:.1f} frames/s, "
              f"{1000 * base['cpu_s'] / base['frames']:.1f} CPU ms/frame; the pipeline is "
              + ", ".join(f"{speedups[runtime]:.2f}x faster on {runtime} ({cpu_ratios[runtime]:.2f}x less CPU)"
                          for runtime in runtimes))
        print("    step seconds: " + " | ".join(f"{k} {v:.1f}" for k, v in base["timings"].items()))
        report["baseline"] = {"case": first.name, **base, "speedup": speedups, "cpu_ratio": cpu_ratios}

    for runtime in runtimes:
        for case in cases:
            short = Case(case.width, case.height, case.people, min(c.seconds for c in cases))
            if case.seconds > short.seconds and short.name in results[runtime]:
                ratio = results[runtime][case.name]["peak_mb"] / results[runtime][short.name]["peak_mb"]
                print(f"memory ({runtime}): peak RSS {case.name} / {short.name} = {ratio:.2f}")
    host_after = machine()["load_average"]
    print(f"load average at the end: {' '.join(map(str, host_after))}; CPU: {host['cpu']}, {host['cores']} cores")
    report["load_average_end"] = host_after
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
