"""Load the shipped action checkpoint safely and turn feature windows into class probabilities.

A checkpoint is a folder with `model.safetensors` (tensors only, so loading can never execute code,
unlike a pickle) and `config.json` (architecture, classes, feature version, provenance). The config's
`model_id` is a hash of the weights file, so a tampered or swapped file is refused rather than run.
An ensemble checkpoint holds several networks of one shape (config `members`); it loads and predicts
like a single one. Writing lives here too, so the one format is defined in one place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from har_core.action_net import ARCHITECTURE, FEATURE_VERSION, ActionEnsemble, ActionLSTM, NetConfig
from har_core.errors import ModelError
from har_core.features import FEATURE_DIM, WINDOW, mirrored_features
from har_core.skeleton import CLASSES

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "checkpoint"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_ID_CHARS = 16


def weights_id(weights_file: Path) -> str:
    """Short content hash of the weights file: the model id that names a checkpoint everywhere."""
    return hashlib.sha256(weights_file.read_bytes()).hexdigest()[:_ID_CHARS]


def save_checkpoint(net: ActionLSTM | ActionEnsemble, out_dir: Path, metadata: dict) -> str:
    """Write `net` as a checkpoint folder and return its model id.

    Args:
        net: the trained network, or an ensemble of them.
        out_dir: folder to create or overwrite.
        metadata: provenance stored in config.json (training data summary, seed, date, metrics...).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / WEIGHTS_FILE
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in net.state_dict().items()}
    save_file(tensors, str(weights), metadata={"architecture": ARCHITECTURE})
    model_id = weights_id(weights)
    config = {
        "model_id": model_id,
        "architecture": ARCHITECTURE,
        "classes": list(CLASSES),
        "window": WINDOW,
        "feature_dim": FEATURE_DIM,
        "feature_version": FEATURE_VERSION,
        "net": net.config.to_dict(),
        "members": len(net.members) if isinstance(net, ActionEnsemble) else 1,
        **metadata,
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return model_id


@dataclass
class ActionClassifier:
    """A loaded checkpoint, ready to classify batches of feature windows.

    Attributes:
        net: the network (or ensemble) in eval mode on `device`.
        model_id: the checkpoint's content hash.
        classes: class names in output order.
        device: torch device the network runs on.
        config: the checkpoint's full config.json.
    """

    net: ActionLSTM | ActionEnsemble
    model_id: str
    classes: tuple[str, ...]
    device: torch.device
    config: dict

    @classmethod
    def load(cls, path: Path | str | None = None, device: str = "auto") -> ActionClassifier:
        """Load a checkpoint folder (default: the shipped one), refusing anything not exactly ours.

        Raises:
            ModelError: the folder or a file is missing, the weights do not match the config's model id,
                the architecture, feature version, classes or window are unknown, or tensors are missing
                or have the wrong shape.
        """
        folder = Path(path) if path is not None else DEFAULT_CHECKPOINT
        config = _read_config(folder)
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelError(f"Model checkpoint {folder} has no {WEIGHTS_FILE}.")
        if weights_id(weights) != config["model_id"]:
            raise ModelError(f"Model checkpoint {folder} was modified: its weights do not match model id "
                             f"{config['model_id']}.")
        net_config, members = _net_config(config, folder), _members(config, folder)
        net = ActionLSTM(net_config) if members == 1 else ActionEnsemble(net_config, members)
        try:
            tensors = load_file(str(weights))
        except (SafetensorError, OSError) as exc:
            raise ModelError(f"Model checkpoint {folder} weights are unreadable: {exc}.") from exc
        _load_tensors(net, tensors, folder)
        target = _resolve_device(device)
        net.to(target).eval()
        return cls(net=net, model_id=config["model_id"], classes=tuple(config["classes"]), device=target,
                   config=config)

    def predict(self, features: np.ndarray, batch_size: int = 1024, mirror: bool = True) -> np.ndarray:
        """Class probabilities for feature windows, averaged with those of their mirror image by default.

        Every class is its own mirror image (a one-hand wave with the left hand is still WAVING_1HAND), so
        the two views should agree; where they do not, the network is unsure, and averaging them made
        it right more often on every held-out set (model card, "Mirror averaging") at half the speed of a
        single pass, which is still far above what the pipeline needs.

        Args:
            features: (N, 32, 51) from `har_core.features`.
            batch_size: windows per forward pass; large batches amortise per-call overhead.
            mirror: average with the mirrored windows (False: the network's single view).
        Returns:
            (N, 7) float32 probabilities in `classes` order; rows sum to 1.
        """
        features = np.asarray(features, dtype=np.float32)
        expected = (WINDOW, FEATURE_DIM)
        if features.ndim != 3 or features.shape[1:] != expected:
            raise ValueError(f"features must have shape (N, {WINDOW}, {FEATURE_DIM}), got {features.shape}")
        probs = self._forward(features, batch_size)
        if mirror:
            probs = (probs + self._forward(mirrored_features(features), batch_size)) / 2
        return probs

    def _forward(self, features: np.ndarray, batch_size: int) -> np.ndarray:
        """Softmax outputs of the network for (N, 32, 51) float32 features, in batches."""
        out = np.empty((len(features), len(self.classes)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(features), batch_size):
                batch = torch.from_numpy(features[start : start + batch_size]).to(self.device)
                out[start : start + len(batch)] = torch.softmax(self.net(batch), dim=-1).float().cpu().numpy()
        return out


def _read_config(folder: Path) -> dict:
    """Parse and check config.json against what this version of the code understands."""
    config_file = folder / CONFIG_FILE
    if not config_file.is_file():
        raise ModelError(f"No model checkpoint at {folder} (missing {CONFIG_FILE}).")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"Model checkpoint {folder} has an unreadable {CONFIG_FILE}: {exc}.") from exc
    if not isinstance(config, dict) or not isinstance(config.get("model_id"), str):
        raise ModelError(f"Model checkpoint {folder} has no model id in {CONFIG_FILE}.")
    expected = {
        "architecture": ARCHITECTURE,
        "feature_version": FEATURE_VERSION,
        "classes": list(CLASSES),
        "window": WINDOW,
        "feature_dim": FEATURE_DIM,
    }
    for key, want in expected.items():
        if config.get(key) != want:
            raise ModelError(f"Model checkpoint {folder} has {key}={config.get(key)!r}; this version needs {want!r}.")
    return config


def _net_config(config: dict, folder: Path) -> NetConfig:
    """Rebuild the network config, refusing unknown or ill-typed fields."""
    raw = config.get("net")
    try:
        net_config = NetConfig(**raw)
    except TypeError as exc:
        raise ModelError(f"Model checkpoint {folder} has an unknown network config: {exc}.") from exc
    if net_config.input_dim != FEATURE_DIM or net_config.window != WINDOW or net_config.num_classes != len(CLASSES):
        raise ModelError(f"Model checkpoint {folder} network config does not match the features or classes.")
    return net_config


def _members(config: dict, folder: Path) -> int:
    """How many networks the checkpoint holds (1 when the config predates ensembles)."""
    members = config.get("members", 1)
    if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= 16:
        raise ModelError(f"Model checkpoint {folder} has members={members!r}; expected 1 to 16 networks.")
    return members


def _load_tensors(net: ActionLSTM | ActionEnsemble, tensors: dict[str, torch.Tensor], folder: Path) -> None:
    """Copy tensors into `net`, requiring exactly the expected names, shapes and dtypes."""
    state = net.state_dict()
    missing = sorted(set(state) - set(tensors))
    extra = sorted(set(tensors) - set(state))
    if missing or extra:
        raise ModelError(f"Model checkpoint {folder} does not fit its architecture (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}).")
    for name, tensor in tensors.items():
        if tensor.shape != state[name].shape or tensor.dtype != state[name].dtype:
            raise ModelError(f"Model checkpoint {folder} tensor {name} has shape {tuple(tensor.shape)} "
                             f"{tensor.dtype}; expected {tuple(state[name].shape)} {state[name].dtype}.")
    net.load_state_dict(tensors, strict=True)


def _resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; anything else must name a device torch knows."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ModelError(f"Unknown device {device!r} for the action model.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"Device {device!r} was requested for the action model but CUDA is not available.")
    return resolved
