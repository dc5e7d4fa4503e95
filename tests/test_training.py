"""The LightningModule, the data module's augmentation, a tiny end-to-end training run and the evaluation card.

Everything here runs on procedural motion only (no ../shared data), at toy size.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from har_core.action_net import ActionEnsemble
from har_core.classifier import ActionClassifier
from har_core.features import FEATURE_DIM, WINDOW, features_for_windows, mirrored_joints
from har_core.skeleton import CLASSES, JOINT_INDEX
from models import evaluate, train
from models.lstm import ActionModule
from models.synth.dataset import generate_windows

TINY_SEED = 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `python -m models.train --tiny` run of a two-network ensemble (in-process), shared by the tests
    that read its checkpoint."""
    out = tmp_path_factory.mktemp("tiny") / "checkpoint"
    assert train.main(["--tiny", "--no-mocap", "--workers", "1", "--seed", str(TINY_SEED), "--members", "2",
                       "--out", str(out)]) == 0
    return out


def test_forward_shapes_and_hyperparameters() -> None:
    module = ActionModule(hidden=16, layers=2)
    features = torch.randn(5, WINDOW, FEATURE_DIM)
    assert module(features).shape == (5, len(CLASSES))
    assert module.net.hidden_states(features).shape == (5, WINDOW, 16)
    assert module.hparams.hidden == 16 and module.hparams.layers == 2


@pytest.mark.parametrize("project", [True, False])
def test_hidden_state_is_causal(project: bool) -> None:
    """Changing frames after t leaves every hidden state up to t unchanged, and changes later ones."""
    torch.manual_seed(0)
    net = ActionModule(hidden=24, layers=2, project=project).net.eval()
    features = torch.randn(3, WINDOW, FEATURE_DIM)
    changed = features.clone()
    t = 20
    changed[:, t + 1 :] = torch.randn(3, WINDOW - t - 1, FEATURE_DIM)
    with torch.inference_mode():
        before, after = net.hidden_states(features), net.hidden_states(changed)
    torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1])
    assert not torch.allclose(before[:, t + 1 :], after[:, t + 1 :])


def test_mirror_swaps_sides_and_keeps_features_consistent() -> None:
    windows = generate_windows(14, seed=1, mocap=False).keypoints
    mirrored = mirrored_joints(windows)
    left, right = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    np.testing.assert_array_equal(mirrored[..., left, 0], -windows[..., right, 0])
    np.testing.assert_array_equal(mirrored[..., left, 1:], windows[..., right, 1:])
    np.testing.assert_array_equal(mirrored_joints(mirrored), windows)
    # Mirroring changes only the sign of each x feature after the joint swap: y and validity carry over.
    feats, feats_m = features_for_windows(windows), features_for_windows(mirrored)
    np.testing.assert_allclose(feats_m[..., left], -feats[..., right], atol=1e-5)
    np.testing.assert_allclose(feats_m[..., 17 + left], feats[..., 17 + right], atol=1e-5)


def test_tiny_training_writes_a_checkpoint_that_learned(tiny_run: Path) -> None:
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["training"]["seeds"] == [TINY_SEED, TINY_SEED + 1] and config["members"] == 2
    assert [m["seed"] for m in config["training"]["members"]] == [TINY_SEED, TINY_SEED + 1]
    assert config["training_data"]["train"]["windows"] == 700
    with (tiny_run / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    epochs = config["hyperparameters"]["max_epochs"]
    assert [(row["member"], row["epoch"]) for row in rows] == [(m, str(e)) for m in ("0", "1") for e in range(epochs)]
    assert set(rows[0]) == {"member", "epoch", "train_loss", "val_loss", "val_acc"}
    clf = ActionClassifier.load(tiny_run)
    assert clf.model_id == config["model_id"] and isinstance(clf.net, ActionEnsemble)
    stride = config["hyperparameters"]["clip_stride"]
    data = generate_windows(700, seed=TINY_SEED, mocap=False, stride=stride)  # the run's own training windows
    probs = clf.predict(features_for_windows(data.keypoints))
    nll = -np.log(probs[np.arange(len(probs)), data.labels]).mean()
    accuracy = (probs.argmax(axis=1) == data.labels).mean()
    assert nll < math.log(len(CLASSES)) - 0.05, nll
    assert accuracy > 1.5 / len(CLASSES), accuracy


def test_evaluate_writes_the_card(tiny_run: Path, tmp_path: Path) -> None:
    argv = ["--checkpoint", str(tiny_run), "--out", str(tmp_path), "--sim-windows", "140", "--no-mocap",
            "--render-clips", "0", "--no-real", "--workers", "1", "--compare", str(tiny_run)]
    assert evaluate.main(argv) == 0
    card = (tmp_path / "model_card.md").read_text()
    for heading in ("## Model", "## Data sources and licences", "## Diagnostics: simulated and rendered data",
                    "## Per-class precision and recall", "## Confusion matrices",
                    "## Rendered video through the full pipeline"):
        assert heading in card
    assert "## Real footage" not in card and "real_footage" not in json.loads((tmp_path / "metrics.json").read_text())
    assert "mocap.cs.cmu.edu" in card and "CG-2007-2" in card and "Apache-2.0" in card
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["model_id"] == json.loads((tiny_run / "config.json").read_text())["model_id"]
    simulated = metrics["results"]["simulated"]
    assert simulated["n"] == 140 and np.asarray(simulated["confusion"]).sum() == 140
    assert set(metrics["not_run"]) == {"held-out motion capture", "rendered video clips", "real clips"}
    # Compared with itself, the comparison must reproduce the main figure exactly.
    assert "## Network size" in card
    assert metrics["comparison"]["compared"]["simulated"] == simulated["accuracy"]
    # The mirror section reports the single view and the mirror-averaged figure the summary uses.
    assert "## Mirror averaging" in card and set(metrics["mirror"]) == {"simulated"}
    assert metrics["mirror"]["simulated"]["mirrored"] == simulated["accuracy"]
    assert 0.0 <= metrics["mirror"]["simulated"]["single"] <= 1.0
    # The ensemble section scores each member alone; the last row is the ensemble's own figure.
    assert "## Ensemble" in card and "2 networks: seed 0" in card
    assert [row["member"] for row in metrics["ensemble"]] == [0, 1, "ensemble"]
    assert metrics["ensemble"][-1]["simulated"] == simulated["accuracy"]
    assert all(0.0 <= row["simulated"] <= 1.0 for row in metrics["ensemble"])
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_ensemble_member_is_the_single_run_of_its_seed(tiny_run: Path, tmp_path: Path) -> None:
    """Member k of `--members K --seed s` is exactly what `--members 1 --seed s+k` trains, so a member can be
    reproduced (or checked) on its own."""
    single = tmp_path / "single"
    assert train.main(["--tiny", "--no-mocap", "--workers", "1", "--seed", str(TINY_SEED + 1), "--members", "1",
                       "--out", str(single)]) == 0
    alone = ActionClassifier.load(single)
    assert not isinstance(alone.net, ActionEnsemble)
    member = ActionClassifier.load(tiny_run).net.members[1]
    for name, tensor in alone.net.state_dict().items():
        torch.testing.assert_close(member.state_dict()[name], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("argv, seeds", [
    ([], list(train.SHIPPED_SEEDS)),  # the shipped checkpoint's members
    (["--seeds", "7,2,5"], [7, 2, 5]),
    (["--seed", "4"], [4, 5]),
    (["--members", "1"], [0]),
    (["--seed", "2", "--members", "3"], [2, 3, 4]),
])
def test_member_seeds(argv: list[str], seeds: list[int]) -> None:
    assert train.parse_args(argv).seeds == seeds


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0,3", "--seed", "1"], "either --seeds or --seed/--members"),
    (["--seeds", "1,1"], "each seed once"),
    (["--seeds", "one"], "whole numbers separated by commas"),
    (["--members", "0"], "at least 1"),
])
def test_bad_member_seeds_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        train.parse_args(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_the_moving_average_of_the_weights_is_what_is_kept(tmp_path: Path) -> None:
    """Same seed and data with and without `--ema`: the averaged checkpoint differs from the last step's weights,
    and the config records the decay. A decay of 1 would never move from the initial weights and is refused."""
    nets = {}
    for ema in ("0", "0.9"):
        out = tmp_path / f"ema-{ema}"
        assert train.main(["--tiny", "--no-mocap", "--workers", "1", "--seed", "3", "--members", "1", "--ema", ema,
                           "--out", str(out)]) == 0
        assert json.loads((out / "config.json").read_text())["hyperparameters"]["ema"] == float(ema)
        nets[ema] = ActionClassifier.load(out).net.state_dict()
    assert nets["0"].keys() == nets["0.9"].keys()
    assert any(not torch.equal(nets["0"][name], nets["0.9"][name]) for name in nets["0"])
    with pytest.raises(SystemExit):
        train.parse_args(["--ema", "1"])
