"""Teaching the model: labelled ranges cut the classifier's own windows, fine-tuning fixes a style the shipped
model gets wrong without forgetting the rest, the command line refuses bad labels, the result loads and runs.

The style is one-hand waving filmed from high above (a camera looking down at about 60 degrees, like a ceiling
or security camera someone waves up at; training cameras look down at most 25 degrees), rendered by the
synthesiser and analysed by the real pipeline. The shipped model calls most of it OTHER.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from har_core.classifier import ActionClassifier
from har_core.cli import main as analyze_cli
from har_core.errors import LabelError, NoPersonError
from har_core.features import features_for_windows
from har_core.jobs import JobManager
from har_core.outputs import PROB_COLUMNS
from har_core.pipeline import AnalysisSettings, analyze
from har_core.skeleton import CLASSES
from har_core.store import RunStore
from har_core.user_labels import LabelledRange, labelled_windows, load_run_tracks, read_labels_csv
from har_core.user_models import ModelLibrary
from models.evaluate import evaluate_windows
from models.finetune import FinetuneConfig, FinetuneResult, finetune, held_out_sets, main, sampling_weights
from models.synth.scenes import eval_scene, write_scene_video

STYLE_CLASS = "WAVING_1HAND"
STYLE_LABEL = CLASSES.index(STYLE_CLASS)
SECONDS = 3.0
# The defaults without motion capture (the tests do not read ../shared) and without the cross-validated figures.
# Measured on these clips (31 of the 32 give a person; docs/experiments.md, "A style fine-tuning can learn"): with
# the shipped model the unseen clips' windows are 0.38 right before, 0.90 after, held-out simulated 0.967 -> 0.961.
# With the model before it, seeds 0, 1, 2 of this configuration learnt the style to 0.87-0.94 with simulated
# 0.947-0.956. With motion capture in the replay (the defaults), held-out mocap stays within 1 point. Boxing filmed
# from the same height is learnt as well but costs 3.6-6.1 points of mocap.
CONFIG = replace(FinetuneConfig(), mocap=False, folds=0, held_out_windows=700)


def overhead_waving(folder: Path, seed: int, clips: int) -> list[Path]:
    """Render one-hand waving filmed from about 60 degrees above and analyse it; the results folders."""
    results = []
    for k in range(clips):
        rng = np.random.default_rng([seed, STYLE_LABEL, k])
        person, camera = eval_scene(rng, STYLE_LABEL, SECONDS, (480, 360), 30.0, max_yaw_deg=10.0)
        camera = replace(camera, yaw_deg=float(rng.uniform(-15, 15)), pitch_deg=float(rng.uniform(55, 65)))
        video = folder / f"waving_{seed}_{k}.mp4"
        write_scene_video(video, [person], camera, 30.0, SECONDS, seed=int(rng.integers(2**31)))
        try:
            analyze(video, folder / video.stem, AnalysisSettings(people="primary", smoothing=0))
        except NoPersonError:  # the pose model missed the figure altogether: not a clip of the style
            continue
        results.append(folder / video.stem)
    return results


def whole_clips(results: list[Path], label: str = STYLE_CLASS) -> list[LabelledRange]:
    return [LabelledRange(folder, int(json.loads((folder / "summary.json").read_text())["primary_person_id"]), 0.0,
                          SECONDS, label) for folder in results]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    folder = tmp_path_factory.mktemp("overhead")
    return overhead_waving(folder, 11, 32), overhead_waving(folder, 13, 8)


@pytest.fixture(scope="module")
def tuned(clips: tuple[list[Path], list[Path]], tmp_path_factory: pytest.TempPathFactory) -> FinetuneResult:
    train, _ = clips
    return finetune(whole_clips(train), tmp_path_factory.mktemp("model") / "overhead", config=CONFIG)


def test_labelled_windows_are_the_windows_the_classifier_scored(clips: tuple[list[Path], list[Path]]) -> None:
    folder = clips[1][0]
    windows = labelled_windows(whole_clips([folder]))
    frames = pd.read_csv(folder / "frames.csv")
    scored = frames.set_index("time_s").loc[np.round(windows.end_s, 4)]
    assert len(windows) == frames[PROB_COLUMNS[0]].notna().sum() > 0  # every predicted frame, no other
    probs = ActionClassifier.load().predict(features_for_windows(windows.keypoints))
    # frames.csv keeps 4 decimals of each probability and keypoints.csv 2 of each coordinate; that rounding moves
    # a window's probabilities by up to a few hundredths (more where the network is steep), never on average.
    difference = np.abs(probs - scored[list(PROB_COLUMNS)].to_numpy())
    assert difference.max() < 0.05 and difference.mean() < 0.002, (difference.max(), difference.mean())
    assert (probs.argmax(axis=1) == scored[list(PROB_COLUMNS)].to_numpy().argmax(axis=1)).mean() >= 0.95
    half = labelled_windows([replace(whole_clips([folder])[0], start_s=1.5, end_s=2.0)])
    assert len(half) > 0 and ((half.end_s >= 1.5) & (half.end_s <= 2.0)).all()


def test_fine_tuning_fixes_the_style_and_keeps_the_held_out_sets(clips: tuple[list[Path], list[Path]],
                                                                 tuned: FinetuneResult) -> None:
    _, test = clips
    unseen = labelled_windows(whole_clips(test))
    shipped, new = ActionClassifier.load(), ActionClassifier.load(tuned.out)
    before = (shipped.predict(features_for_windows(unseen.keypoints)).argmax(1) == STYLE_LABEL).mean()
    after = (new.predict(features_for_windows(unseen.keypoints)).argmax(1) == STYLE_LABEL).mean()
    assert before < 0.5, f"the shipped model already recognises this style ({before:.2f}); pick another style"
    assert after >= 0.8, (before, after)
    for name, windows in held_out_sets(CONFIG).items():
        kept = evaluate_windows(new, windows, name).accuracy
        assert kept >= evaluate_windows(shipped, windows, name).accuracy - 0.02, name
    figures = tuned.evaluation
    assert figures["simulated"]["after"]["n"] == 700 and figures["labelled"]["before"]["accuracy"] < 0.5


def test_the_model_is_a_checkpoint_with_its_provenance(tuned: FinetuneResult, clips) -> None:
    config = json.loads((tuned.out / "config.json").read_text())
    shipped = ActionClassifier.load()
    assert config["model_id"] == tuned.model_id != shipped.model_id
    assert config["base_model_id"] == shipped.model_id
    assert config["finetune"]["per_class"] == {STYLE_CLASS: tuned.windows}
    assert [r["results"] for r in config["finetune"]["labels"]] == [str(p) for p in clips[0]]
    assert (tuned.out / "metrics.csv").read_text().startswith("member,epoch,train_loss,val_loss,val_acc")
    assert ActionClassifier.load(tuned.out).model_id == tuned.model_id  # the same safe loader


def test_analyze_with_the_model_records_it_and_keys_the_cache_by_it(tuned: FinetuneResult, clips,
                                                                    tmp_path: Path) -> None:
    video = next(clips[1][0].parent.glob("waving_13_*.mp4"))
    result = analyze(video, tmp_path / "out", AnalysisSettings(people="primary", model=str(tuned.out)))
    assert json.loads((result.out_dir / "summary.json").read_text())["model_id"] == tuned.model_id
    jobs = JobManager(RunStore(tmp_path / "runs"))
    custom = AnalysisSettings(model=str(tuned.out))
    assert jobs.model_id_for(custom) == tuned.model_id
    assert jobs.key_for(video, custom, tuned.model_id) != jobs.key_for(video, AnalysisSettings(), jobs.model_id)


def test_the_library_installs_activates_reverts_and_deletes(tuned: FinetuneResult, tmp_path: Path) -> None:
    library = ModelLibrary(tmp_path / "models")
    copy = tmp_path / "fresh"
    shutil.copytree(tuned.out, copy)
    model = library.install(copy)
    assert model.model_id == tuned.model_id and [m.model_id for m in library.models()] == [tuned.model_id]
    assert library.active() is None
    library.activate(model.model_id)
    assert library.active().model_id == model.model_id
    assert ActionClassifier.load(library.active().path).model_id == model.model_id
    library.activate(None)
    assert library.active() is None
    library.activate(model.model_id)
    assert library.delete(model.model_id) and library.active() is None and library.models() == []


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def write_labels(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows, columns=["results", "person_id", "start_s", "end_s", "label"]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, change, message", [
    ("unknown label", {"label": "DANCING"}, "unknown label 'DANCING'"),
    ("outside the clip", {"start_s": 1.0, "end_s": 9.0}, "outside the clip"),
    ("empty range", {"start_s": 2.0, "end_s": 1.0}, "must start before it ends"),
    ("missing person", {"person_id": 7}, "Person 7 is not in"),
    ("no keypoints", {"results": "no-keypoints"}, "has no keypoints.csv"),
    ("too few windows", {"start_s": 1.5, "end_s": 1.8}, "needs at least 20"),
])
def test_bad_labels_are_one_line_errors(case: str, change: dict, message: str, clips, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "no-keypoints").mkdir()
    folder = clips[1][0]
    person = int(json.loads((folder / "summary.json").read_text())["primary_person_id"])
    row = {"results": str(folder), "person_id": person, "start_s": 0.0, "end_s": SECONDS, "label": STYLE_CLASS,
           **change}
    labels = write_labels(tmp_path / "labels.csv", [row])
    code, err = run_cli([str(labels), "--out", str(tmp_path / "model"), "--tiny"], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "model").exists()


def test_a_labels_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("clip,from,to\nx,0,1\n")
    with pytest.raises(LabelError, match="needs a header with results, person_id"):
        read_labels_csv(bad)


def test_run_tracks_rebuild_the_people_of_a_run(clips) -> None:
    folder = clips[1][0]
    run = load_run_tracks(folder)
    keypoints = pd.read_csv(folder / "keypoints.csv")
    assert set(run.tracks) == set(keypoints["person_id"])
    assert run.duration_s == pytest.approx(SECONDS, abs=0.05)


def test_batches_keep_every_class_share_and_the_user_takes_part_of_their_class() -> None:
    labels = np.array([STYLE_LABEL] * 10 + list(range(7)) * 20)
    is_user = np.arange(len(labels)) < 10
    weights = sampling_weights(labels, is_user, 0.75)
    per_class = np.bincount(labels, weights=weights, minlength=7)
    np.testing.assert_allclose(per_class, 1 / 7)
    assert weights[is_user].sum() == pytest.approx(0.75 / 7)


def test_analyze_refuses_a_folder_that_is_not_a_model(clips, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = next(clips[1][0].parent.glob("waving_13_*.mp4"))
    code = analyze_cli(["analyze", str(video), "--out", str(tmp_path / "out"), "--model", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: No model checkpoint at") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
