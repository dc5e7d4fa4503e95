"""Score action models on every real clip available: the measure that predicts what users see.

Simulated, motion-capture and rendered figures are diagnostics; real footage is the claim. This module
runs the pipeline's pass 1 (decode, MoveNet, tracking: `har_core.pipeline.estimate_poses`, default settings)
once per clip and caches the tracks under `data_cache/real_poses/`, then classifies them with any number of
checkpoints through the pipeline's own `compute_timelines` (default smoothing). A clip's label is the
majority of the per-frame argmax of the most-present person (`choose_primary`); frame accuracy is the
share of that person's predicted frames whose argmax is the clip's class.

The clips come from `../shared/data/real-dev/` (7) and `../shared/data/real-extra/` (54, 12 people); they
state no licence, so they are read in place, never copied, never trained on, and never needed by the test
suite. People are split in two (`DECIDE_PEOPLE` and the rest): choices are made looking at the first part
only, the second part confirms them (docs/model.md, "Real footage: the measure").

Run: `python -m models.real_footage [--checkpoint DIR ...] [--refresh]` prints the figures per part, class
and source for each checkpoint; `python -m models.evaluate` puts the shipped checkpoint's into the card.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from har_core.classifier import DEFAULT_CHECKPOINT, ActionClassifier
from har_core.pipeline import AnalysisSettings, estimate_poses
from har_core.pose_size import RERUN_BELOW_PX, RERUN_INPUT_SIZE
from har_core.skeleton import CLASSES
from har_core.store import VIDEO_SUFFIXES
from har_core.timeline import PersonTrack, TimelineSettings, compute_timelines
from har_core.tracking import choose_primary

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
REAL_DIRS = (SHARED_DATA / "real-dev", SHARED_DATA / "real-extra")
CACHE_DIR = REPO_ROOT / "data_cache" / "real_poses"
CACHE_VERSION = 1  # bump when pass 1 changes in a way the settings below do not capture
BOOTSTRAP_SAMPLES = 10_000
INTERVAL = 0.90

# The people whose clips may be looked at while choosing (the seven development clips, which every earlier
# decision already saw, one of the three lab people, and four of the nine Weizmann actors); everyone else's
# clips only confirm. Fixed before any figure of this module was read.
DECIDE_PEOPLE = frozenset({
    "sudchaudhary", "afrl", "techbusa", "ud810-P1",
    "weizmann-subj0", "weizmann-subj1", "weizmann-subj2", "weizmann-subj3",
})


@dataclass(frozen=True)
class RealClip:
    """One real video with its class, the person in it and where it comes from."""

    path: Path
    label: str
    person: str
    source: str

    @property
    def part(self) -> str:
        return "decide" if self.person in DECIDE_PEOPLE else "confirm"


@dataclass
class ClipScore:
    """One clip classified by one checkpoint."""

    video: str
    label: str
    person: str
    source: str
    part: str
    predicted: str
    vote_share: float
    frames: int
    frames_right: int

    @property
    def correct(self) -> bool:
        return self.predicted == self.label


def _person_of_dev_clip(name: str) -> str:
    """The person in a real-dev clip, from its file name (its manifest has no person column)."""
    lab = re.search(r"ud810_PS7A\dP(\d)", name)
    if lab:
        return f"ud810-P{lab.group(1)}"
    return name.split("_")[0]


def _source_of(person: str, folder: Path) -> str:
    if person.startswith("weizmann"):
        return "weizmann"
    if person.startswith("ud810"):
        return "ud810-lab"
    return folder.name


def real_clips(folders: tuple[Path, ...] = REAL_DIRS) -> list[RealClip]:
    """Every video under `<folder>/<CLASS>/`, with its person from the folder's MANIFEST.tsv where it has one."""
    clips = []
    for folder in folders:
        if not folder.is_dir():
            continue
        people = {}
        manifest = folder / "MANIFEST.tsv"
        if manifest.exists():
            with manifest.open(newline="") as handle:
                people = {row["file"]: row["person"] for row in csv.DictReader(handle, delimiter="\t")
                          if row.get("person")}
        for label in CLASSES:
            for video in sorted((folder / label).glob("*")):
                if video.suffix.lower() not in VIDEO_SUFFIXES:
                    continue
                person = people.get(f"{label}/{video.name}") or _person_of_dev_clip(video.name)
                clips.append(RealClip(video, label, person, _source_of(person, folder)))
    return clips


@dataclass
class CachedTracks:
    """Pass 1's output for one clip: every track, the frame times and the primary person's id."""

    tracks: list[PersonTrack]
    times: np.ndarray
    primary_id: int


def _cache_key(video: Path, settings: AnalysisSettings) -> str:
    digest = hashlib.sha256(video.read_bytes())
    # The automatic input size's rule is part of what pass 1 does with `input_size=None`.
    rule = {"rerun_below_px": RERUN_BELOW_PX, "rerun_input_size": RERUN_INPUT_SIZE}
    digest.update(json.dumps({"v": CACHE_VERSION, **asdict(settings), "auto_size": rule}, sort_keys=True,
                             default=str).encode())
    return digest.hexdigest()[:20]


def cached_tracks(video: Path, settings: AnalysisSettings, refresh: bool = False,
                  cache_dir: Path = CACHE_DIR) -> CachedTracks:
    """Pass 1 of the pipeline on `video` with `settings`, from the cache when it holds this file and settings."""
    path = cache_dir / f"{video.stem}-{_cache_key(video, settings)}.npz"
    if path.exists() and not refresh:
        data = np.load(path)
        tracks = [PersonTrack(int(pid), int(first), data[f"kp{i}"], data[f"det{i}"])
                  for i, (pid, first) in enumerate(data["track_heads"])]
        return CachedTracks(tracks, data["times"], int(data["primary_id"]))
    run = estimate_poses(video, settings)
    tracks = run.log.tracks()
    primary = choose_primary(run.tracker.stats.values()) if tracks else -1
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"kp{i}": t.keypoints for i, t in enumerate(tracks)} | {f"det{i}": t.detected for i, t in enumerate(tracks)}
    heads = np.array([(t.person_id, t.first_frame) for t in tracks], dtype=np.int64).reshape(-1, 2)
    np.savez_compressed(path, times=run.times, primary_id=primary, track_heads=heads, **arrays)
    return CachedTracks(tracks, run.times, primary)


def clip_vote(frame_labels: np.ndarray) -> tuple[str, float, dict[str, int]]:
    """Majority class over frames that carry a class label (NO_WINDOW/ABSENT/UNCERTAIN do not vote)."""
    votes = Counter(str(label) for label in frame_labels if label in CLASSES)
    if not votes:
        return "NONE", 0.0, {}
    winner, count = votes.most_common(1)[0]
    return winner, count / sum(votes.values()), dict(votes)


def score_clip(clip: RealClip, tracks: CachedTracks, classifier: ActionClassifier) -> ClipScore:
    """Classify the clip's primary person as the pipeline does (default timeline settings) and vote over the
    per-frame argmax."""
    primary = [t for t in tracks.tracks if t.person_id == tracks.primary_id]
    predicted, share, frames, right = "NONE", 0.0, 0, 0
    if primary:
        probs = compute_timelines(primary, tracks.times, classifier, TimelineSettings())[0].probs
        predicted_frames = probs[~np.isnan(probs).any(axis=1)].argmax(axis=1)
        frames = len(predicted_frames)
        predicted, share, _ = clip_vote(np.asarray(CLASSES)[predicted_frames])
        right = int((predicted_frames == CLASSES.index(clip.label)).sum())
    return ClipScore(clip.path.name, clip.label, clip.person, clip.source, clip.part, predicted, round(share, 3),
                     frames, right)


def bootstrap_interval(correct: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, level: float = INTERVAL,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `correct` (clips resampled with replacement)."""
    if len(correct) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = rng.choice(np.asarray(correct, dtype=np.float64), size=(samples, len(correct))).mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


@dataclass
class Summary:
    """Clip and frame accuracy of a group of clips, with the bootstrap interval on clip accuracy."""

    group: str
    clips: int
    right: int
    accuracy: float
    low: float
    high: float
    frame_accuracy: float

    @classmethod
    def of(cls, group: str, scores: list[ClipScore]) -> Summary:
        correct = np.array([s.correct for s in scores], dtype=np.float64)
        frames = sum(s.frames for s in scores)
        low, high = bootstrap_interval(correct)
        return cls(group, len(scores), int(correct.sum()), float(correct.mean()) if len(correct) else float("nan"),
                   low, high, sum(s.frames_right for s in scores) / frames if frames else float("nan"))


def summaries(scores: list[ClipScore]) -> dict[str, list[Summary]]:
    """Overall, per part, per source and per class summaries."""
    def grouped(key: str, order: list[str]) -> list[Summary]:
        return [Summary.of(name, [s for s in scores if getattr(s, key) == name]) for name in order
                if any(getattr(s, key) == name for s in scores)]

    return {
        "all": [Summary.of("all real clips", scores)],
        "part": grouped("part", ["decide", "confirm"]),
        "source": grouped("source", sorted({s.source for s in scores})),
        "class": grouped("label", list(CLASSES)),
    }


def score_clips(classifier: ActionClassifier, clips: list[RealClip],
                tracks: dict[Path, CachedTracks]) -> list[ClipScore]:
    """Every clip scored by one classifier, on tracks from `load_all_tracks`."""
    return [score_clip(clip, tracks[clip.path], classifier) for clip in clips]


def load_all_tracks(clips: list[RealClip], refresh: bool = False) -> dict[Path, CachedTracks]:
    """Pass 1 with the pipeline's default settings for every clip (cached)."""
    return {clip.path: cached_tracks(clip.path, AnalysisSettings(), refresh) for clip in clips}


def summary_lines(summary: list[Summary]) -> list[str]:
    """Markdown rows `| group | clips | right | accuracy [90% interval] | frame accuracy |`."""
    return [f"| {s.group} | {s.clips} | {s.right} | {s.accuracy:.3f} [{s.low:.2f}, {s.high:.2f}] | "
            f"{s.frame_accuracy:.3f} |" for s in summary]


def summary_table(groups: dict[str, list[Summary]]) -> list[str]:
    head = ["| group | clips | right | clip accuracy [90% interval] | frame accuracy |", "|---|---|---|---|---|"]
    rows = [line for key in ("all", "part", "source", "class") for line in summary_lines(groups[key])]
    return [*head, *rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.real_footage", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", help="checkpoint folder (repeatable)")
    parser.add_argument("--refresh", action="store_true", help="run pass 1 again instead of using the cache")
    parser.add_argument("--clips", action="store_true", help="also print every clip's result (decide part only)")
    parser.add_argument("--all-clips", action="store_true", help="print every clip's result, confirm part too")
    args = parser.parse_args(argv)
    clips = real_clips()
    if not clips:
        parser.error(f"no real clips under {', '.join(str(d) for d in REAL_DIRS)}")
    tracks = load_all_tracks(clips, refresh=args.refresh)
    for checkpoint in args.checkpoint or [DEFAULT_CHECKPOINT]:
        classifier = ActionClassifier.load(checkpoint)
        scores = score_clips(classifier, clips, tracks)
        print(f"\n## {checkpoint} ({classifier.model_id})")
        print("\n".join(summary_table(summaries(scores))))
        if args.clips or args.all_clips:
            for s in scores:
                if args.all_clips or s.part == "decide":
                    print(f"  {s.part:7s} {s.video:45s} {s.label:15s} -> {s.predicted:15s} {s.vote_share:.2f} "
                          f"frames right {s.frames_right}/{s.frames}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
