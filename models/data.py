"""LightningDataModule: simulated keypoint windows -> (features, label) batches.

The data module keeps keypoints, not features, so augmentation happens where the pose estimator's
output lives (a mirrored person is a mirrored keypoint set) and the model still sees exactly what
`har_core.features` computes at inference time.
"""

from __future__ import annotations

from collections import Counter

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from har_core.features import features_for_windows, mirrored_joints
from har_core.skeleton import CLASSES
from models.synth.dataset import CLIP_STRIDE, generate_windows
from models.synth.noise import perturb_windows


class KeypointWindows(Dataset):
    """Keypoint windows (N, 32, 17, 3) with labels (N,); items are indices, batches are built by `collate`.

    `perturb` (N,) marks windows that get fresh estimator errors (jitter, missed joints) in every batch when
    augmenting: real footage, whose errors are those of one camera, as opposed to simulated windows, which
    were generated with them (`models.synth.noise`).
    """

    def __init__(self, keypoints: np.ndarray, labels: np.ndarray, augment: bool,
                 perturb: np.ndarray | None = None) -> None:
        self.keypoints = np.asarray(keypoints, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.augment = augment
        self.perturb = np.zeros(len(self.labels), dtype=bool) if perturb is None else np.asarray(perturb, dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> int:
        return index

    def collate(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather a batch, mirror a random half when augmenting, and compute features for all at once.

        Feature computation is vectorised over the batch, which is far cheaper than per item.
        """
        keypoints = self.keypoints[indices]
        if self.augment:
            flip = torch.rand(len(indices)).numpy() < 0.5
            keypoints[flip] = mirrored_joints(keypoints[flip])
            real = self.perturb[indices]
            if real.any():  # seeded from torch, so `L.seed_everything` makes it reproducible like the flips
                rng = np.random.default_rng(int(torch.randint(0, 2**31, ()).item()))
                keypoints[real] = perturb_windows(keypoints[real], rng)
        features = torch.from_numpy(features_for_windows(keypoints))
        return features, torch.from_numpy(self.labels[indices])


class ActionDataModule(L.LightningDataModule):
    """Generates training and validation windows from `models.synth` with separate seeds.

    Validation uses its own seed rather than a random split, so no window of a validation clip overlaps
    a training window of the same clip.
    """

    def __init__(self, windows: int = 60_000, val_windows: int = 6_000, seed: int = 0, batch_size: int = 256,
                 mocap: bool = True, workers: int = 1, clip_stride: float = CLIP_STRIDE) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_set: KeypointWindows | None = None
        self.val_set: KeypointWindows | None = None
        self.summary: dict = {}

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        train = generate_windows(hp.windows, seed=hp.seed, mocap=hp.mocap, workers=hp.workers,
                                 stride=hp.clip_stride)
        val = generate_windows(hp.val_windows, seed=hp.seed + 1_000_003, mocap=hp.mocap, workers=hp.workers,
                               stride=hp.clip_stride)
        self.train_set = KeypointWindows(train.keypoints, train.labels, augment=True)
        self.val_set = KeypointWindows(val.keypoints, val.labels, augment=False)
        self.summary = {"train": summarise(train.labels, train.sources), "val": summarise(val.labels, val.sources)}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True,
                          collate_fn=self.train_set.collate, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1024, collate_fn=self.val_set.collate)


def summarise(labels: np.ndarray, sources: np.ndarray) -> dict:
    """Window counts per class and per source, for the checkpoint config and the model card."""
    return {
        "windows": len(labels),
        "per_class": {CLASSES[k]: int(v) for k, v in sorted(Counter(labels.tolist()).items())},
        "per_source": dict(sorted(Counter(map(str, sources)).items())),
    }
