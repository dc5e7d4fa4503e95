"""ActionClassifier: safe loading (refuses tampered, mismatched or pickled checkpoints) and batching."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from har_core.action_net import ActionEnsemble, ActionLSTM, NetConfig
from har_core.classifier import (
    CONFIG_FILE,
    DEFAULT_CHECKPOINT,
    WEIGHTS_FILE,
    ActionClassifier,
    save_checkpoint,
    weights_id,
)
from har_core.errors import ModelError
from har_core.features import FEATURE_DIM, WINDOW, mirrored_features
from har_core.skeleton import CLASSES


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A small randomly initialised checkpoint written in the shipped format."""
    torch.manual_seed(0)
    folder = tmp_path / "ckpt"
    save_checkpoint(ActionLSTM(NetConfig(hidden=16, layers=2)), folder, {"seed": 0})
    return folder


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(37, WINDOW, FEATURE_DIM)).astype(np.float32)


def rewrite_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / CONFIG_FILE).read_text())
    config.update(changes)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def test_loads_and_predicts_probabilities(checkpoint: Path, features: np.ndarray) -> None:
    clf = ActionClassifier.load(checkpoint, device="cpu")
    probs = clf.predict(features)
    assert probs.shape == (len(features), len(CLASSES)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert clf.classes == CLASSES
    assert clf.model_id == weights_id(checkpoint / WEIGHTS_FILE)
    assert clf.device.type == "cpu"
    assert not clf.net.training


def test_batch_predictions_equal_one_by_one(checkpoint: Path, features: np.ndarray) -> None:
    clf = ActionClassifier.load(checkpoint)
    batched = clf.predict(features, batch_size=16)
    single = np.concatenate([clf.predict(features[i : i + 1], batch_size=1) for i in range(len(features))])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_predictions_average_each_window_with_its_mirror_image(checkpoint: Path, features: np.ndarray) -> None:
    clf = ActionClassifier.load(checkpoint)
    single = clf.predict(features, mirror=False)
    mirrored = clf.predict(mirrored_features(features), mirror=False)
    assert np.abs(single - mirrored).max() > 1e-3  # the network alone is not symmetric
    np.testing.assert_allclose(clf.predict(features), (single + mirrored) / 2, atol=1e-6)
    # So a person and their mirror image get the same answer.
    np.testing.assert_allclose(clf.predict(mirrored_features(features)), clf.predict(features), atol=1e-6)


def test_empty_input_and_wrong_shape(checkpoint: Path) -> None:
    clf = ActionClassifier.load(checkpoint)
    assert clf.predict(np.zeros((0, WINDOW, FEATURE_DIM))).shape == (0, len(CLASSES))
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((4, WINDOW, 17, 3)))


def test_refuses_flipped_bytes(checkpoint: Path) -> None:
    weights = checkpoint / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="modified"):
        ActionClassifier.load(checkpoint)


def test_refuses_wrong_hash_in_config(checkpoint: Path) -> None:
    rewrite_config(checkpoint, model_id="0123456789abcdef")
    with pytest.raises(ModelError, match="0123456789abcdef"):
        ActionClassifier.load(checkpoint)


class _Exploit:
    """Unpickling this would create a file: proof that a loader executed pickle code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_refuses_pickle_even_with_matching_hash(checkpoint: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    weights = checkpoint / WEIGHTS_FILE
    weights.write_bytes(pickle.dumps({"net.weight": _Exploit(marker)}))
    rewrite_config(checkpoint, model_id=weights_id(weights))
    with pytest.raises(ModelError, match="unreadable"):
        ActionClassifier.load(checkpoint)
    assert not marker.exists()


def test_refuses_missing_tensor(checkpoint: Path) -> None:
    net = ActionLSTM(NetConfig(hidden=16, layers=2))
    tensors = {k: v.contiguous() for k, v in net.state_dict().items() if not k.startswith("head")}
    save_file(tensors, str(checkpoint / WEIGHTS_FILE))
    rewrite_config(checkpoint, model_id=weights_id(checkpoint / WEIGHTS_FILE))
    with pytest.raises(ModelError, match="missing"):
        ActionClassifier.load(checkpoint)


def test_refuses_wrong_shapes(checkpoint: Path) -> None:
    config = json.loads((checkpoint / CONFIG_FILE).read_text())
    rewrite_config(checkpoint, net={**config["net"], "hidden": 32})
    with pytest.raises(ModelError, match="shape"):
        ActionClassifier.load(checkpoint)


@pytest.mark.parametrize(
    ("key", "value"),
    [("architecture", "transformer"), ("feature_version", 999), ("classes", ["A", "B"]), ("window", 16)],
)
def test_refuses_unknown_architecture_or_version(checkpoint: Path, key: str, value: object) -> None:
    rewrite_config(checkpoint, **{key: value})
    with pytest.raises(ModelError, match=key):
        ActionClassifier.load(checkpoint)


def test_refuses_unknown_net_field(checkpoint: Path) -> None:
    config = json.loads((checkpoint / CONFIG_FILE).read_text())
    rewrite_config(checkpoint, net={**config["net"], "heads": 4})
    with pytest.raises(ModelError, match="network config"):
        ActionClassifier.load(checkpoint)


def test_missing_folder_and_files(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(ModelError, match="No model checkpoint"):
        ActionClassifier.load(tmp_path / "nowhere")
    (checkpoint / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        ActionClassifier.load(checkpoint)


def test_shipped_checkpoint_loads() -> None:
    clf = ActionClassifier.load()
    config = json.loads((DEFAULT_CHECKPOINT / CONFIG_FILE).read_text())
    assert clf.model_id == config["model_id"]
    probs = clf.predict(np.zeros((3, WINDOW, FEATURE_DIM), dtype=np.float32))
    assert probs.shape == (3, len(CLASSES))


def test_ensemble_checkpoint_averages_its_members(tmp_path: Path, features: np.ndarray) -> None:
    """An ensemble saves and loads like one network, and predicts exactly the mean of its members' probabilities."""
    torch.manual_seed(1)
    nets = [ActionLSTM(NetConfig(hidden=16)) for _ in range(3)]
    members = []
    for k, net in enumerate(nets):
        save_checkpoint(net, tmp_path / f"member{k}", {"seed": k})
        members.append(ActionClassifier.load(tmp_path / f"member{k}").predict(features, mirror=False))
    save_checkpoint(ActionEnsemble.of(nets), tmp_path / "ensemble", {"seed": 0})
    ensemble = ActionClassifier.load(tmp_path / "ensemble")
    assert isinstance(ensemble.net, ActionEnsemble) and len(ensemble.net.members) == 3
    assert json.loads((tmp_path / "ensemble" / CONFIG_FILE).read_text())["members"] == 3
    np.testing.assert_allclose(ensemble.predict(features, mirror=False), np.mean(members, axis=0), atol=1e-5)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # the members really differ


@pytest.mark.parametrize("members", [0, 2, 17, "3", True])
def test_refuses_a_wrong_member_count(checkpoint: Path, members: object) -> None:
    rewrite_config(checkpoint, members=members)
    with pytest.raises(ModelError, match="members|missing"):
        ActionClassifier.load(checkpoint)


def test_ensemble_members_must_share_one_shape() -> None:
    with pytest.raises(ValueError, match="share"):
        ActionEnsemble.of([ActionLSTM(NetConfig(hidden=16)), ActionLSTM(NetConfig(hidden=8))])
    with pytest.raises(ValueError, match="two"):
        ActionEnsemble(NetConfig(hidden=16), 1)
