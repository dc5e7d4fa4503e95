"""LightningModule around the torch-only `ActionLSTM`: what to compute in training and validation."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from har_core.action_net import ActionLSTM, NetConfig


class ActionModule(L.LightningModule):
    """Trains `ActionLSTM` with cross-entropy, AdamW and a one-cycle learning-rate schedule.

    One-cycle suits the fixed, short training budget: warm-up keeps the first steps stable and the
    long anneal gives most of the final accuracy without tuning a decay schedule per run length.
    """

    def __init__(
        self,
        hidden: int = 50,
        layers: int = 1,
        dropout: float = 0.0,
        project: bool = False,
        lr: float = 3e-3,
        weight_decay: float = 1e-2,
        label_smoothing: float = 0.05,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])  # a subclass may pass a trained network (models.finetune)
        self.net = ActionLSTM(NetConfig(hidden=hidden, layers=layers, dropout=dropout, project=project))
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 32, 51) features -> (N, 7) logits."""
        return self.net(features)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        features, labels = batch
        loss = self.loss(self(features), labels)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        features, labels = batch
        logits = self(features)
        self.log("val_loss", self.loss(logits, labels), on_epoch=True, prog_bar=True)
        self.log("val_acc", (logits.argmax(-1) == labels).float().mean(), on_epoch=True, prog_bar=True)

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.hparams.lr, total_steps=self.trainer.estimated_stepping_batches, pct_start=0.15
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
