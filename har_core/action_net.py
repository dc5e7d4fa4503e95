"""The action network itself, in plain torch, so inference never pays for importing Lightning.

`models/lstm.py` wraps this module for training; `har_core/classifier.py` rebuilds it from a
checkpoint's config. Both therefore agree on the architecture by construction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from har_core.features import FEATURE_DIM, WINDOW
from har_core.skeleton import NUM_CLASSES

ARCHITECTURE = "causal-lstm"
# Bumped whenever har_core.features changes what a feature vector means; a checkpoint trained on
# another version would silently misread its input, so the classifier refuses it.
# 2: windows are 32 samples at 30 fps (har_core.frame_rate), no longer 32 frames at the video's rate.
FEATURE_VERSION = 2


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

    hidden: int = 50  # the original app's shape; the shipped one is in models/checkpoint/config.json
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


class ActionEnsemble(nn.Module):
    """Several `ActionLSTM`s of one shape, each trained from its own seed, whose probabilities are averaged.

    One network's figures move by one to five points from one seed to the next on every held-out set,
    and where one is wrong the others often are not: three 1 x 50 networks averaged beat each of them on
    simulated windows and rendered clips (docs/model.md, "Ensembles"; `python -m models.train --members K`).
    `forward` returns the log of the mean probability, so a softmax of it is exactly the averaged
    probabilities and callers treat the ensemble like a single network.
    """

    def __init__(self, config: NetConfig, members: int) -> None:
        super().__init__()
        if members < 2:
            raise ValueError(f"an ensemble needs at least two members, got {members}")
        self.config = config
        self.members = nn.ModuleList(ActionLSTM(config) for _ in range(members))

    @classmethod
    def of(cls, nets: list[ActionLSTM]) -> ActionEnsemble:
        """An ensemble holding (copies of the weights of) trained networks that share one config."""
        if len({net.config for net in nets}) != 1:
            raise ValueError("ensemble members must share one network config")
        ensemble = cls(nets[0].config, len(nets))
        for member, net in zip(ensemble.members, nets, strict=True):
            member.load_state_dict(net.state_dict())
        return ensemble

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, T, input_dim) features -> (N, num_classes) log of the members' mean class probabilities."""
        log_probs = torch.stack([torch.log_softmax(member(features), dim=-1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))
