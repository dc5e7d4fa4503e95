"""The action network itself, in plain torch, so inference never pays for importing Lightning.

`models/lstm.py` wraps this module for training; `har_core/classifier.py` rebuilds it from a
checkpoint's config. Both therefore agree on the architecture by construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from har_core.features import FEATURE_DIM, WINDOW
from har_core.skeleton import NUM_CLASSES

ARCHITECTURE = "causal-lstm"
# Bumped whenever har_core.features changes what a feature vector means; a checkpoint trained on
# another version would silently misread its input, so the classifier refuses it.
FEATURE_VERSION = 1


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; stored in the checkpoint's config.json.

    Attributes:
        hidden: LSTM hidden units per layer.
        layers: stacked LSTM layers.
        dropout: dropout on the projected input, between LSTM layers and before the head (training only).
        project: whether a LayerNorm + linear projection to `hidden` precedes the LSTM; without it the
            raw 51 features go straight in (the original app's design).
    """

    hidden: int = 50  # the shipped shape: see docs/model.md for why not larger
    layers: int = 1
    dropout: float = 0.0
    project: bool = False
    input_dim: int = FEATURE_DIM
    num_classes: int = NUM_CLASSES
    window: int = WINDOW

    def to_dict(self) -> dict:
        return asdict(self)


class ActionLSTM(nn.Module):
    """Unidirectional LSTM over a window of per-frame features, classified from the last step.

    Every operation before the LSTM works per frame, and the LSTM only looks back, so the state at
    frame t depends on frames <= t: the same network can later run frame by frame on a live stream.
    """

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        if config.project:
            self.inp: nn.Module = nn.Sequential(
                nn.LayerNorm(config.input_dim),
                nn.Linear(config.input_dim, config.hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
            )
            lstm_in = config.hidden
        else:
            self.inp = nn.Identity()
            lstm_in = config.input_dim
        self.lstm = nn.LSTM(
            lstm_in,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.hidden, config.num_classes))

    def hidden_states(self, features: torch.Tensor) -> torch.Tensor:
        """(N, T, input_dim) features -> (N, T, hidden) top-layer LSTM outputs, one per frame."""
        out, _ = self.lstm(self.inp(features))
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, T, input_dim) features -> (N, num_classes) logits from the last frame's state."""
        return self.head(self.hidden_states(features)[:, -1])
