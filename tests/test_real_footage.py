"""The real-footage evaluation's machinery on clips the test renders (the real clips themselves stay in ../shared).

What must hold for its figures to mean what the model card says: the cached pass 1 gives exactly the tracks and
labels the pipeline gives, clips are found with their person and part, and the interval behaves like one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_core.classifier import ActionClassifier
from models import real_footage
from models.evaluate import PIPELINE_SETTINGS, primary_labels
from models.real_footage import (
    RealClip,
    bootstrap_interval,
    cached_tracks,
    clip_vote,
    real_clips,
    score_clip,
    summaries,
)
from models.synth.scenes import render_eval_clips


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list:
    """One short rendered clip per class, 320x240 (small keeps the module to a few seconds)."""
    return render_eval_clips(1, 4242, tmp_path_factory.mktemp("rendered"), seconds=1.8, image_size=(320, 240))


def test_clips_are_found_with_their_person_part_and_source(tmp_path: Path, rendered: list) -> None:
    extra = tmp_path / "real-extra"
    dev = tmp_path / "real-dev"
    jacks = next(c for c in rendered if c.label == "JUMPING_JACKS")
    for folder, name in ((extra, "weizmann_jack_subj7_0001.mp4"), (dev, "gt_ud810_PS7A2P1T1.mp4"),
                         (dev, "sudchaudhary_boxing.mp4")):
        (folder / "JUMPING_JACKS").mkdir(parents=True, exist_ok=True)
        (folder / "JUMPING_JACKS" / name).write_bytes(jacks.video.read_bytes())
    (extra / "JUMPING_JACKS" / "notes.txt").write_text("not a video")
    (extra / "MANIFEST.tsv").write_text("class\tfile\tperson\nJUMPING_JACKS\tJUMPING_JACKS/weizmann_jack_subj7_0001.mp4"
                                        "\tweizmann-subj7\n")

    clips = {c.path.name: c for c in real_clips((dev, extra))}

    assert set(clips) == {"weizmann_jack_subj7_0001.mp4", "gt_ud810_PS7A2P1T1.mp4", "sudchaudhary_boxing.mp4"}
    assert (clips["weizmann_jack_subj7_0001.mp4"].person, clips["weizmann_jack_subj7_0001.mp4"].source,
            clips["weizmann_jack_subj7_0001.mp4"].part) == ("weizmann-subj7", "weizmann", "confirm")
    assert (clips["gt_ud810_PS7A2P1T1.mp4"].person, clips["gt_ud810_PS7A2P1T1.mp4"].part) == ("ud810-P1", "decide")
    assert (clips["sudchaudhary_boxing.mp4"].source, clips["sudchaudhary_boxing.mp4"].part) == ("real-dev", "decide")


def test_cached_tracks_give_the_pipelines_labels(tmp_path: Path, rendered: list,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    clip = next(c for c in rendered if c.label == "JUMPING_JACKS")
    real = RealClip(clip.video, clip.label, "someone", "rendered")
    classifier = ActionClassifier.load()

    first = score_clip(real, cached_tracks(clip.video, PIPELINE_SETTINGS, cache_dir=tmp_path), classifier)
    # The second read comes from the cache: pass 1 must not run again.
    monkeypatch.setattr(real_footage, "estimate_poses", lambda *a, **k: pytest.fail("pass 1 ran again"))
    again = score_clip(real, cached_tracks(clip.video, PIPELINE_SETTINGS, cache_dir=tmp_path), classifier)

    labels = primary_labels(clip.video, tmp_path / "run")  # the whole pipeline, as the model card's votes
    predicted, share, votes = clip_vote(labels)
    assert first == again
    assert (first.predicted, first.vote_share) == (predicted, round(share, 3))
    assert first.frames == sum(votes.values()) and first.frames_right == votes.get(clip.label, 0)
    assert first.correct  # a plain front-on jumping jack, which every shipped checkpoint has labelled right


def test_interval_brackets_the_accuracy_and_narrows_with_more_clips() -> None:
    assert bootstrap_interval(np.ones(10)) == (1.0, 1.0)
    few = bootstrap_interval(np.array([1, 0] * 5))
    many = bootstrap_interval(np.array([1, 0] * 50))
    assert few[0] < 0.5 < few[1] and many[0] < 0.5 < many[1]
    assert many[1] - many[0] < few[1] - few[0]
    assert bootstrap_interval(np.array([1, 0, 1]), seed=1) == bootstrap_interval(np.array([1, 0, 1]), seed=1)


def test_summaries_count_per_part_source_and_class() -> None:
    def score(label: str, predicted: str, person: str, source: str) -> real_footage.ClipScore:
        part = "decide" if person in real_footage.DECIDE_PEOPLE else "confirm"
        return real_footage.ClipScore("v", label, person, source, part, predicted, 1.0, 10, 10 * (label == predicted))

    scores = [score("OTHER", "OTHER", "weizmann-subj0", "weizmann"), score("OTHER", "WAVING_2HANDS", "ud810-P2", "lab"),
              score("BOXING", "BOXING", "ud810-P3", "lab")]
    groups = summaries(scores)

    assert (groups["all"][0].clips, groups["all"][0].right) == (3, 2)
    assert {s.group: (s.clips, s.right) for s in groups["part"]} == {"decide": (1, 1), "confirm": (2, 1)}
    assert {s.group: s.right for s in groups["source"]} == {"lab": 1, "weizmann": 1}
    assert {s.group: s.accuracy for s in groups["class"]} == {"BOXING": 1.0, "OTHER": 0.5}
    assert groups["all"][0].frame_accuracy == pytest.approx(20 / 30)
