"""Command line: `python -m har_core analyze VIDEO --out DIR` (and `batch`, see har_core.batch_cli).

Progress goes to stderr as a bar per stage (frames/s and time left); the result summary goes to stdout.
Bad input ends with one line, `error: <what is wrong>`, and exit code 2 (`HarError.exit_code`); the
pipeline guarantees DIR then holds nothing half-written. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from tqdm import tqdm

from har_core.errors import HarError
from har_core.pipeline import PEOPLE_CHOICES, POSE_AGAIN_STAGE, AnalysisResult, AnalysisSettings, Progress, analyze
from har_core.pose import RUNTIMES
from har_core.pose_size import parse_input_size
from har_core.pose_stride import MAX_POSE_EVERY, parse_pose_every

_STAGE_TITLES = {"pose": "pose + tracking", POSE_AGAIN_STAGE: "pose again, larger input (small people)",
                 "actions": "actions", "render": "render + encode"}
_INTERRUPTED_EXIT = 130


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_analysis_options(run: argparse.ArgumentParser) -> None:
    """The options that choose an analysis's `AnalysisSettings`, shared by `analyze` and `batch`.

    Each option's destination is the settings field it sets, so `settings_from_args` needs no list of its
    own. Defaults come from AnalysisSettings so the CLI and the dashboard agree.
    """
    defaults = AnalysisSettings()
    run.add_argument("--backend", choices=("movenet", "detectron2"), default=defaults.backend, help="pose backend")
    run.add_argument("--input-size", type=parse_input_size, default=defaults.input_size, metavar="auto|N",
                     help="MoveNet input side, a multiple of 32 (larger finds smaller people, slower); auto "
                     "(default) uses 256 and looks again at 512 when the main person is small in it")
    run.add_argument("--pose-runtime", choices=RUNTIMES, default=defaults.pose_runtime,
                     help="what runs MoveNet (same weights): openvino (default, faster) or litert")
    run.add_argument("--pose-every", type=parse_pose_every, default=defaults.pose_every, metavar="auto|N",
                     help=f"estimate poses on every Nth frame (1-{MAX_POSE_EVERY}) and interpolate the frames "
                     "between; auto (default) estimates about 15 a second, every 2nd frame at 30 fps")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default=defaults.device)
    run.add_argument("--people", choices=PEOPLE_CHOICES, default=defaults.people,
                     help="every tracked person, or only the primary one")
    run.add_argument("--threshold", type=_fraction, default=defaults.threshold,
                     help="top probability below this is labelled UNCERTAIN")
    run.add_argument("--smoothing", type=_count, default=defaults.smoothing,
                     help="centred moving average over this many frames (0 or 1: off)")
    run.add_argument("--max-seconds", type=_seconds, default=defaults.max_seconds, help="refuse longer videos")
    run.add_argument("--max-frames", type=_positive, default=defaults.max_frames, help="refuse videos with more frames")
    run.add_argument("--max-pixels", type=_positive, default=defaults.max_pixels,
                     help="refuse larger frames (width x height)")
    run.add_argument("--max-side", type=_positive, default=defaults.max_side,
                     help="process and render larger frames scaled down to this longer side")
    run.add_argument("--model", type=_model_dir, default=defaults.model, metavar="MODEL_DIR",
                     help="action model checkpoint folder, e.g. one made by `python -m models.finetune` "
                     "(default: the shipped checkpoint)")


def _model_dir(text: str) -> str:
    """A checkpoint folder as the absolute path AnalysisSettings.model stores (the loader checks its contents)."""
    return str(Path(text).resolve())


def settings_from_args(args: argparse.Namespace) -> AnalysisSettings:
    """The AnalysisSettings chosen by the options `add_analysis_options` added."""
    return AnalysisSettings(**{field.name: getattr(args, field.name) for field in fields(AnalysisSettings)
                               if hasattr(args, field.name)})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: `analyze` (one video) and `batch` (many, on Ray)."""
    parser = argparse.ArgumentParser(prog="python -m har_core", description="Human action recognition from video.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("analyze", help="analyse a video: annotated.mp4, frames.csv, keypoints.csv, "
                              "summary.json")
    run.add_argument("video", type=Path, help="input video (mp4, mov, mkv, webm, avi)")
    run.add_argument("--out", type=Path, required=True, help="output folder (created; a previous result is replaced)")
    add_analysis_options(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    batch = commands.add_parser("batch", help="analyse many videos on Ray (this machine, or a cluster by address): "
                                "a folder of results per video and batch.csv")
    batch.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="video files, folders (searched recursively for video files) or glob patterns")
    batch.add_argument("--out", type=Path, required=True,
                       help="output folder: one folder per video (as analyze writes) and batch.csv")
    batch.add_argument("--address", default=None,
                       help="a running Ray cluster (auto, ray://host:10001, host:6379); default: start Ray here")
    batch.add_argument("--workers", type=_positive, default=None,
                       help="videos analysed at once (default: one per core)")
    batch.add_argument("--store", action="store_true",
                       help="also record every finished video in the dashboard's run store")
    batch.add_argument("--name", default=None, help="the batch's name in the run store (default: the --out folder's)")
    add_analysis_options(batch)
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


@dataclass
class _ProgressBars:
    """One tqdm bar per stage on stderr; tqdm computes frames/s and the time left itself."""

    bar: tqdm | None = None
    stage: str = ""

    def __call__(self, progress: Progress) -> None:
        if progress.stage not in _STAGE_TITLES:
            return
        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            unit = "people" if progress.stage == "actions" else "frames"
            self.bar = tqdm(total=progress.total, desc=_STAGE_TITLES[progress.stage], unit=f" {unit}",
                            file=sys.stderr, dynamic_ncols=True, leave=True)
        if progress.total is not None and self.bar.total != progress.total:
            self.bar.total = progress.total
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _report(result: AnalysisResult) -> str:
    timings = result.timings
    seconds = timings.get("total", 0.0)
    fps = result.frames / seconds if seconds else 0.0
    lines = [
        f"wrote {result.out_dir}: annotated.mp4, frames.csv, keypoints.csv, summary.json",
        (f"{result.frames} frames, {len(result.people)} {'person' if len(result.people) == 1 else 'people'} "
         f"(primary: {result.primary_id}), {seconds:.1f} s, {fps:.1f} frames/s"),
    ]
    for timeline in result.timelines:
        parts = [f"{s.label} {s.start_s:.1f}-{s.end_s:.1f}s" for s in timeline.segments]
        lines.append(f"person {timeline.person_id}: " + (", ".join(parts) if parts else "no action windows"))
    return "\n".join(lines)


@contextmanager
def _native_stderr_held() -> Iterator[None]:
    """Keep what native libraries print straight to file descriptor 2 off the terminal while a run is going.

    Why: LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to fd 2 and has no switch
    for it, so a run that fails after loading the pose model would print two lines instead of the one
    promised. Python's own stderr (progress bars, the error line) moves to a copy of the terminal's
    descriptor meanwhile, so only native chatter is held back. It is replayed if the run ends in a bug
    rather than a HarError, where it may explain the crash. When stderr is not file descriptor 2 (captured
    or replaced, as under pytest), native output does not reach it anyway and nothing is changed.
    """
    try:
        is_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        is_fd2 = False
    if not is_fd2:
        yield
        return
    python_stderr = sys.stderr
    python_stderr.flush()
    terminal = os.dup(2)
    replay = False
    with tempfile.TemporaryFile() as held, open(terminal, "w", encoding=python_stderr.encoding,
                                                 errors="backslashreplace", buffering=1) as stream:
        os.dup2(held.fileno(), 2)
        sys.stderr = stream
        try:
            yield
        except (HarError, KeyboardInterrupt):
            raise
        except BaseException:
            replay = True
            raise
        finally:
            stream.flush()
            sys.stderr = python_stderr
            os.dup2(stream.fileno(), 2)
            if replay:
                held.seek(0)
                shutil.copyfileobj(held, python_stderr.buffer)
                python_stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    if args.command == "batch":
        from har_core.batch_cli import run_batch_command  # imports Ray, which `analyze` does not need

        return run_batch_command(args, settings)
    bars = _ProgressBars()
    try:
        with _native_stderr_held():
            try:
                result = analyze(args.video, args.out, settings, None if args.quiet else bars)
            finally:
                bars.close()  # inside: the bars write to the stderr that _native_stderr_held provides
    except HarError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)  # always exactly one line
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written.", file=sys.stderr)
        return _INTERRUPTED_EXIT
    print(_report(result))
    return 0
