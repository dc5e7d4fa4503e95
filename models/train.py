"""Regenerate the training data and train the shipped checkpoint: `python -m models.train`.

One command, fixed seeds, and a budget sized for this 2-core CPU (data generation included), so every
number in the model card can be reproduced. The shipped checkpoint is an ensemble of two networks whose
probabilities are averaged; member seeds 0 and 3 (`--seeds`), the two of seeds 0-7 with the best validation
accuracy, a choice written down before the new seeds' real-footage figures existed (docs/experiments.md, "Eight
seeds"). Member k is trained exactly as a single run with its seed would be (its own data, its own
initialisation), so any member can be reproduced on its own. `--seed S --members K` trains seeds S to S+K-1.
`--tiny` is the same path at toy size, for tests."""

from __future__ import annotations

import argparse
import csv
import datetime
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, WeightAveraging
from lightning.pytorch.loggers import CSVLogger
from torch.optim.swa_utils import get_ema_multi_avg_fn

from har_core.action_net import ActionEnsemble, ActionLSTM
from har_core.classifier import DEFAULT_CHECKPOINT, save_checkpoint
from models.data import ActionDataModule
from models.lstm import ActionModule

# A safety net for the whole run, not the plan: members x windows x epochs are chosen to finish well
# inside it on the 2-core CPU; each member may use its share of what is left.
MAX_TRAIN_MINUTES = 19
# The shipped members: of seeds 0-7, the two with the best validation accuracy (docs/experiments.md, "Eight seeds").
SHIPPED_SEEDS = (0, 3)
METRICS_FILE = "metrics.csv"


@dataclass
class MemberResult:
    """One network's training run: its seed, how it went, and its per-epoch curves."""

    net: ActionLSTM
    seed: int
    epochs: int
    best_epoch: int
    best_val_loss: float
    best_val_acc: float
    data_seconds: float
    train_seconds: float
    curves: list[dict]
    data_summary: dict
    device: str
    hparams: dict

    def summary(self) -> dict:
        """What the checkpoint's config records about this member."""
        return {"seed": self.seed, "epochs_run": self.epochs, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "best_val_acc": self.best_val_acc,
                "data_seconds": round(self.data_seconds, 1), "train_seconds": round(self.train_seconds, 1)}


@dataclass
class TrainResult:
    """What one training command produced."""

    model_id: str
    out: Path
    members: list[MemberResult]

    @property
    def seconds(self) -> float:
        return sum(m.data_seconds + m.train_seconds for m in self.members)


def _seed_list(text: str) -> list[int]:
    """`--seeds` as typed: whole numbers separated by commas, no repeats."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seeds {text!r}: whole numbers separated by commas") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"invalid seeds {text!r}: each seed once")
    return seeds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=96_000, help="training windows to generate (per member)")
    parser.add_argument("--val-windows", type=int, default=6_000, help="validation windows (separate seed)")
    parser.add_argument("--epochs", type=int, default=22)
    parser.add_argument("--seeds", type=_seed_list, default=None, metavar="S,S,...",
                        help=f"one network per seed, averaged (default {','.join(map(str, SHIPPED_SEEDS))}: the shipped "
                             "checkpoint)")
    parser.add_argument("--seed", type=int, default=None, help="with --members: seeds seed to seed + members - 1")
    parser.add_argument("--members", type=int, default=None,
                        help="networks in the ensemble, from consecutive seeds (1 = a single network)")
    # One network of 2 x 64 units with a projected input: on windows of 30 samples a second it beat three of
    # the original app's shape (1 x 50 on the raw features, `--members 3 --hidden 50 --layers 1 --dropout 0
    # --no-project`) averaged, on simulated, mocap and real clips, and runs faster (docs/model.md, "Network").
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1, help="between LSTM layers (needs --layers > 1)")
    parser.add_argument("--project", action=argparse.BooleanOptionalAction, default=True,
                        help="LayerNorm and a linear projection to --hidden before the LSTM")
    # Windows every 8 samples of a procedural clip, not 4: the same number of windows from twice as many clips
    # (bodies, cameras, noise) generalised better (docs/experiments.md, "More clips, fewer windows from each").
    parser.add_argument("--clip-stride", type=float, default=8.0,
                        help="samples between windows cut from one procedural clip (longer: more, varied clips)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (val_loss)")
    parser.add_argument("--ema", type=float, default=0.999,
                        help="decay of a moving average of the weights, updated every step; the average is what is "
                             "validated and kept (0 = the weights of the last step)")
    parser.add_argument("--no-mocap", action="store_true", help="procedural motion only (no ../shared mocap)")
    parser.add_argument("--workers", type=int, default=2, help="processes generating data")
    parser.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint folder to write")
    parser.add_argument("--tiny", action="store_true", help="a few hundred windows, three epochs (tests)")
    if parser.parse_args(argv).tiny:  # toy-size defaults; options given explicitly still win
        # Three epochs at 3e-3: one epoch at 1e-2 learnt nothing on some seeds once the data held people half out
        # of the frame and arms held overhead (2026-12-06); these settings learnt on every seed tried (0, 7, 1234).
        parser.set_defaults(windows=700, val_windows=140, epochs=3, batch_size=8, lr=3e-3, ema=0.9)
    args = parser.parse_args(argv)
    if args.seeds is not None and (args.seed is not None or args.members is not None):
        parser.error("give either --seeds or --seed/--members, not both")
    if args.members is not None and args.members < 1:
        parser.error("--members must be at least 1")
    if args.seeds is None:
        if args.seed is None and args.members is None:
            args.seeds = list(SHIPPED_SEEDS)
        else:
            first = args.seed or 0
            args.seeds = list(range(first, first + (len(SHIPPED_SEEDS) if args.members is None else args.members)))
    if not 0 <= args.ema < 1:
        parser.error("--ema must be at least 0 and below 1")
    return args


def train_member(args: argparse.Namespace, seed: int, max_minutes: float) -> MemberResult:
    """Generate one member's data from `seed`, fit, and keep the epoch with the lowest validation loss."""
    L.seed_everything(seed, workers=True, verbose=False)
    started = time.perf_counter()
    data = ActionDataModule(args.windows, args.val_windows, seed, args.batch_size, not args.no_mocap, args.workers,
                            args.clip_stride)
    data.setup("fit")
    data_seconds = time.perf_counter() - started
    module = ActionModule(hidden=args.hidden, layers=args.layers, dropout=args.dropout, project=args.project,
                          lr=args.lr)
    with tempfile.TemporaryDirectory(prefix="har-train-") as work:
        best = ModelCheckpoint(dirpath=work, monitor="val_loss", mode="min", save_top_k=1)
        logger = CSVLogger(work, name="", version="")
        trainer = L.Trainer(
            max_epochs=args.epochs,
            max_time={"seconds": max(60.0, max_minutes * 60)},
            accelerator="auto",
            devices=1,
            deterministic=True,
            logger=logger,
            callbacks=[best, EarlyStopping(monitor="val_loss", mode="min", patience=args.patience),
                       *([WeightAveraging(multi_avg_fn=get_ema_multi_avg_fn(args.ema))] if args.ema else [])],
            enable_progress_bar=sys.stderr.isatty(),
            enable_model_summary=False,
            log_every_n_steps=10,
        )
        trainer.fit(module, datamodule=data)
        train_seconds = time.perf_counter() - started - data_seconds
        trained = ActionModule.load_from_checkpoint(best.best_model_path, map_location="cpu")
        curves = epoch_curves(Path(logger.log_dir) / METRICS_FILE)
    best_row = min(curves, key=lambda row: row["val_loss"])
    return MemberResult(trained.net, seed, len(curves), best_row["epoch"], best_row["val_loss"], best_row["val_acc"],
                        data_seconds, train_seconds, curves, data.summary, str(trainer.strategy.root_device),
                        dict(trained.hparams))


def train(args: argparse.Namespace, command: str) -> TrainResult:
    """Train every member in turn, then export them together (or the single network) as a checkpoint."""
    started = time.perf_counter()
    members: list[MemberResult] = []
    for k, seed in enumerate(args.seeds):
        left = MAX_TRAIN_MINUTES - (time.perf_counter() - started) / 60
        members.append(train_member(args, seed, left / (len(args.seeds) - k)))
        print(f"member {k + 1}/{len(args.seeds)} (seed {seed}): {members[-1].epochs} epochs, best val_acc "
              f"{members[-1].best_val_acc:.4f}; {members[-1].data_seconds + members[-1].train_seconds:.0f} s",
              file=sys.stderr)
    nets = [m.net for m in members]
    net = nets[0] if len(nets) == 1 else ActionEnsemble.of(nets)
    first = members[0]
    metadata = {
        "hyperparameters": {**first.hparams, "batch_size": args.batch_size, "max_epochs": args.epochs,
                            "patience": args.patience, "clip_stride": args.clip_stride, "ema": args.ema},
        "training_data": first.data_summary,  # every member draws the same amounts from its own seed
        "training": {
            "seed": args.seeds[0],
            "seeds": args.seeds,
            "members": [m.summary() for m in members],
            "data_seconds": round(sum(m.data_seconds for m in members), 1),
            "train_seconds": round(sum(m.train_seconds for m in members), 1),
            "device": first.device,
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "lightning": L.__version__,
            "python": platform.python_version(),
            "command": command,
        },
        "date": datetime.date.today().isoformat(),
    }
    model_id = save_checkpoint(net, args.out, metadata)
    write_curves([m.curves for m in members], args.out / METRICS_FILE)
    return TrainResult(model_id, args.out, members)


def epoch_curves(logged: Path) -> list[dict]:
    """Collapse Lightning's CSV log (train and validation on separate rows) to one row per epoch.

    Lightning runs a two-batch sanity validation before epoch 0 without logging it, so every logged
    validation row belongs to a real epoch.
    """
    rows: dict[int, dict] = {}
    with logged.open() as handle:
        for record in csv.DictReader(handle):
            row = rows.setdefault(int(record["epoch"]), {"epoch": int(record["epoch"])})
            for key in ("train_loss", "val_loss", "val_acc"):
                if record.get(key):
                    row[key] = float(record[key])
    return [row for _, row in sorted(rows.items()) if {"train_loss", "val_loss", "val_acc"} <= row.keys()]


def write_curves(members: list[list[dict]], path: Path) -> None:
    """The training curves the dashboard's Model page plots: member, epoch, train_loss, val_loss, val_acc.

    Args:
        members: each network's per-epoch rows (`epoch_curves`), in member order.
    """
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["member", "epoch", "train_loss", "val_loss", "val_acc"])
        writer.writeheader()
        for index, curves in enumerate(members):
            for row in curves:
                writer.writerow({"member": index, **{k: round(v, 6) if isinstance(v, float) else v
                                                     for k, v in row.items()}})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    result = train(args, command=" ".join(["python -m models.train", *argv]))
    accuracies = ", ".join(f"{m.best_val_acc:.4f}" for m in result.members)
    print(f"model {result.model_id} -> {result.out}: {len(result.members)} member(s), best val_acc {accuracies}; "
          f"{result.seconds:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
