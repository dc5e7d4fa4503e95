"""`python -m har_core batch INPUT... --out DIR`: the batch command's body (its options are in har_core.cli).

Progress goes to stderr as one bar over the videos (frames per second summed over the workers, time
left); the outcome goes to stdout: counts, the time per action across the batch, and each failure. The
exit code is 0 when at least one video has a result, 2 when none could be analysed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from tqdm import tqdm

from har_core.batch import BatchOptions, BatchResult, run_batch
from har_core.batch_progress import BatchProgress
from har_core.batch_table import DONE, FAILED, SKIPPED, read_batch_table, summarize_batch
from har_core.errors import HarError
from har_core.pipeline import AnalysisSettings

_INTERRUPTED_EXIT = 130


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class _VideoBar:
    """One tqdm bar over the batch's videos; the speed, failures and time left come from BatchProgress."""

    bar: tqdm | None = None

    def __call__(self, progress: BatchProgress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=progress.total, desc="videos", unit=" videos", file=sys.stderr,
                            dynamic_ncols=True, bar_format="{desc}: {n}/{total} |{bar}|{postfix}")
        self.bar.update(progress.finished - self.bar.n)
        failed = f", {progress.failed} failed" if progress.failed else ""
        self.bar.set_postfix_str(f"{progress.fps:.0f} frames/s over {progress.active} running{failed}, "
                                 f"{_clock(progress.eta_s)} left")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(result: BatchResult) -> str:
    summary = summarize_batch(read_batch_table(result.table))
    lines = [f"wrote {result.table} and a folder per analysed video in {result.out_dir}",
             (f"{result.count(DONE)} analysed, {result.count(SKIPPED)} skipped (already analysed), "
             f"{result.count(FAILED)} failed, of {len(result.rows)} videos")]
    if result.nodes:
        lines.append(f"{result.workers} at once, {result.cpus_per_video} cores each, on {len(result.nodes)} "
                     f"{'node' if len(result.nodes) == 1 else 'nodes'}")
    actions = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.seconds.items() if seconds > 0)
    lines.append("time per action: " + (actions or "none"))
    lines.extend(f"failed: {video}: {error}" for video, error in summary.failures)
    return "\n".join(lines)


def run_batch_command(args: argparse.Namespace, settings: AnalysisSettings) -> int:
    """Run the batch the parsed arguments describe; returns the exit code."""
    options = BatchOptions(address=args.address, workers=args.workers, store=args.store, name=args.name)
    bar = _VideoBar()
    try:
        try:
            result = run_batch(args.inputs, args.out, settings, options, None if args.quiet else bar)
        finally:
            bar.close()
    except HarError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"error: interrupted; {args.out / 'batch.csv'} lists the videos that finished.", file=sys.stderr)
        return _INTERRUPTED_EXIT
    print(_report(result))
    if not result.analysed_any:
        print(f"error: no video could be analysed ({result.count(FAILED)} failed).", file=sys.stderr)
        return 2
    return 0
