"""Fine-tune an action model on a user's labelled footage: `python -m models.finetune LABELS.csv --out MODEL_DIR`.

LABELS.csv has the columns results, person_id, start_s, end_s, label (`har_core.user_labels`): time ranges of
runs written by `python -m har_core analyze`, each saying what a person really did. The windows they label
are cut from the runs' keypoints exactly as the classifier cut them, and the base network (the shipped
checkpoint unless `--base`) is trained further on them:

- with the augmentations training uses: mirroring, and fresh jitter and missed joints on every pass
  (`models.data.KeypointWindows`, `models.synth.noise.perturb_windows`);
- mixed with windows regenerated from the synthetic training distribution
  (`models.synth.dataset.generate_windows`) so that every class keeps its seventh of each batch, the user's
  windows taking most of their own class's share (`sampling_weights`): classes the user did not label are not
  forgotten, and the one they did label does not become more likely than the others. The regenerated windows
  are taught the base network's own probabilities for them, not their labels (`_TargetsCollate`);
- at a tenth of training's learning rate, with early stopping on a held-out share of the user's runs (plus
  held-out synthetic windows), keeping the epoch with the lowest validation loss.

How well it worked is measured before writing the model: accuracy on the user's labelled windows before and
after, cross-validated by run (each run is scored by a model fine-tuned without it), and on held-out sets of
the model card (a small held-out simulated set, and the held-out motion capture when ../shared has it), so
forgetting shows. MODEL_DIR is a checkpoint in the shipped format with its own model id; config.json records
the base model's id, the labels learnt from and these figures. Analyse with it by `--model MODEL_DIR`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, WeightedRandomSampler

from har_core.action_net import ActionEnsemble, ActionLSTM
from har_core.classifier import CONFIG_FILE, ActionClassifier, save_checkpoint
from har_core.errors import HarError, LabelError, OutputError
from har_core.frame_rate import CLASSIFIER_FPS
from har_core.pipeline import Progress
from har_core.skeleton import CLASSES
from har_core.user_labels import LabelledRange, LabelledWindows, labelled_seconds, labelled_windows, read_labels_csv
from models.data import KeypointWindows
from models.evaluate import EVAL_SEED, HELD_OUT_STRIDE, LabelledResult, evaluate_windows
from models.lstm import ActionModule
from models.synth.dataset import MOCAP_DIR, WindowSet, generate_windows, mocap_validation_windows
from models.train import METRICS_FILE, epoch_curves, write_curves

# Synthetic windows are drawn from seeds far from training's (seed, seed + 1_000_003) and the card's EVAL_SEED.
SYNTHETIC_SEED = 5_000_011


@dataclass(frozen=True)
class FinetuneConfig:
    """How much data and work a fine-tuning run uses; the defaults fit an hour of labels in about 3 minutes on
    2 CPU cores (bench/finetune.py measures it), `TINY` is the same path at toy size (tests, the dashboard's
    quick option).

    Attributes:
        max_user_windows: labelled windows used at most; longer footage keeps every k-th sample's window.
        synthetic_windows: regenerated training windows mixed in (a sixth as many more for validation).
        held_out_windows: size of the held-out simulated set scored before and after.
        epochs, patience: training epochs at most, and epochs without a better validation loss before stopping.
        lr: peak learning rate of the one-cycle schedule (training's is 3e-3; lower keeps what was learnt).
        batch_size: windows per step.
        user_share: in each class the user labelled, the share of its windows in a batch that are the user's.
        min_windows: fewer labelled windows than this are refused.
        val_share: share of the user's runs held out for early stopping.
        folds: cross-validation folds (by run) for the before/after figures; 0 skips them.
        max_train_seconds: the final training's time limit (it usually stops earlier, on validation loss).
        cv_seconds: the cross-validation trainings' time limit, shared between the folds, so that checking the
            model cannot make fine-tuning take more than about twice as long.
        workers: processes generating synthetic windows.
        threads: torch threads while training and scoring. One: a small LSTM gains little from a second
            thread, and on a busy machine two spinning OpenMP threads made each step 50x slower (measured).
        mocap: mix in and score on motion capture (None: when MOCAP_DIR exists).
        replay_mocap_share: the share of each class's replayed windows taken from motion capture, where it has
            enough. Training's data uses 0.3; more real motion in the replay holds on to it better (held-out
            mocap lost 3.8-4.2 points instead of 5.1-5.9 in docs/experiments.md, "Fine-tuning strength").
        seed: everything random follows from it.
    """

    max_user_windows: int = 12_000
    synthetic_windows: int = 6_000
    held_out_windows: int = 1_400
    epochs: int = 6
    patience: int = 2
    lr: float = 3e-4
    batch_size: int = 128
    user_share: float = 0.75
    min_windows: int = 60
    val_share: float = 0.25
    folds: int = 3
    max_train_seconds: float = 90.0
    cv_seconds: float = 60.0
    workers: int = 2
    threads: int = 1
    mocap: bool | None = None
    replay_mocap_share: float = 0.8
    seed: int = 0


TINY = FinetuneConfig(max_user_windows=800, synthetic_windows=420, held_out_windows=140, epochs=2, batch_size=32,
                      min_windows=20, folds=2, max_train_seconds=30.0, cv_seconds=30.0, workers=1, mocap=False)


@dataclass
class FinetuneResult:
    """What a fine-tuning run produced: the new model and the figures stored in its config.json."""

    model_id: str
    base_model_id: str
    out: Path
    windows: int
    per_class: dict[str, int]
    evaluation: dict
    seconds: float
    curves: list[dict] = field(default_factory=list)


class FinetuneModule(ActionModule):
    """`ActionModule`'s loss, optimiser and schedule around an already trained network (or ensemble).

    An ensemble's output is the log of its members' mean probability, which cross-entropy treats as logits,
    so one module trains either.
    """

    def __init__(self, net: ActionLSTM | ActionEnsemble, lr: float) -> None:
        cfg = net.config
        super().__init__(hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout, project=cfg.project, lr=lr)
        self.net = net


class _KeepBest(Callback):
    """Keeps (in memory) the weights of the epoch with the lowest validation loss, and reports progress."""

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self.best_loss = math.inf
        self.best_state: dict | None = None
        self.best_epoch = -1
        self._report = report

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._report(0, trainer.max_epochs)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        loss = float(trainer.callback_metrics["val_loss"])
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, trainer.current_epoch
            self.best_state = copy.deepcopy(module.net.state_dict())
        self._report(trainer.current_epoch + 1, trainer.max_epochs)


class _TargetsCollate:
    """Batches of (features, targets): the label for the user's windows, and for the regenerated synthetic ones
    the probabilities the base network gives the same augmented window (replay by distillation).

    Why: replaying synthetic windows with their labels still moved the network away from what it had learnt.
    Fine-tuned on nothing but replayed labelled windows, it lost 1.7 points of held-out simulated accuracy
    (0.9 with these targets). On real footage whose labels it already mostly got right, it lost 3.4 points of
    held-out mocap (these targets: +0.9). Asking it to keep answering as the base network did anchors it
    wherever the user's labels do not teach it something new.
    """

    def __init__(self, windows: KeypointWindows, is_user: np.ndarray, base: ActionLSTM | ActionEnsemble) -> None:
        self.windows, self.is_user, self.base = windows, is_user, base

    def __call__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        features, labels = self.windows.collate(indices)
        targets = torch.nn.functional.one_hot(labels, len(CLASSES)).float()
        synthetic = torch.from_numpy(~self.is_user[indices])
        if synthetic.any():
            with torch.no_grad():
                targets[synthetic] = self.base(features[synthetic]).softmax(-1)
        return features, targets


def _as_window_set(windows: LabelledWindows) -> WindowSet:
    return WindowSet(windows.keypoints, windows.labels, np.full(len(windows), "user"))


def units(windows: LabelledWindows) -> np.ndarray:
    """What to hold out together: runs when there are two or more, else labelled ranges, else four stretches
    of time, so held-out windows never sit beside near-identical training windows of the same stretch."""
    if len(np.unique(windows.runs)) >= 2:
        return windows.runs
    if len(np.unique(windows.ranges)) >= 2:
        return windows.ranges
    return np.minimum(np.arange(len(windows)) * 4 // max(len(windows), 1), 3)


def _held_out_units(groups: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A mask of the windows in a random `share` of the units (at least one; none when there is only one)."""
    unique = np.unique(groups)
    if len(unique) < 2:
        return np.zeros(len(groups), dtype=bool)
    count = min(len(unique) - 1, max(1, round(share * len(unique))))
    return np.isin(groups, rng.choice(unique, count, replace=False))


def sampling_weights(labels: np.ndarray, is_user: np.ndarray, user_share: float) -> np.ndarray:
    """Sampling weight of each window: every class keeps the seventh of each batch it had in training, and in a
    class the user labelled, `user_share` of that seventh comes from the user's windows.

    The user's labels therefore change how a class looks to the network, never how often it appears: a user who
    labels only BOXING would otherwise teach it that BOXING is far more likely than anything else, and it
    would start calling other actions BOXING (measured: precision on held-out BOXING fell from 1.00 to 0.84
    with half of every batch from one labelled class).
    """
    weights = np.zeros(len(labels))
    for label in range(len(CLASSES)):
        user = is_user & (labels == label)
        synthetic = ~is_user & (labels == label)
        share = user_share if user.any() and synthetic.any() else float(user.any())
        weights[user] = share / max(user.sum(), 1)
        weights[synthetic] = (1 - share) / max(synthetic.sum(), 1)
    return weights / weights.sum()


def train_on(net: ActionLSTM | ActionEnsemble, user: LabelledWindows, synthetic: WindowSet, val_synthetic: WindowSet,
             config: FinetuneConfig, report: Callable[[int, int], None]) -> tuple[ActionLSTM | ActionEnsemble,
                                                                                  list[dict]]:
    """Fine-tune a copy of `net` on `user` windows mixed with `synthetic` ones; returns it and its curves."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    rng = np.random.default_rng([config.seed, len(user)])
    held = _held_out_units(units(user), config.val_share, rng)
    train_user, val_user = user.subset(~held), user.subset(held)
    keypoints = np.concatenate([train_user.keypoints, synthetic.keypoints])
    labels = np.concatenate([train_user.labels, synthetic.labels])
    is_user = np.arange(len(labels)) < len(train_user)
    train_set = KeypointWindows(keypoints, labels, augment=True, perturb=is_user)
    weights = sampling_weights(labels, is_user, config.user_share)
    # Each synthetic window about once an epoch, and each of the user's at least about once.
    user_mass = weights[is_user].sum()
    per_epoch = int(max(len(synthetic), len(train_user) / user_mass if user_mass > 0 else 0, config.batch_size))
    sampler = WeightedRandomSampler(torch.from_numpy(weights), per_epoch, replacement=True,
                                    generator=torch.Generator().manual_seed(config.seed))
    val_set = KeypointWindows(np.concatenate([val_user.keypoints, val_synthetic.keypoints]),
                              np.concatenate([val_user.labels, val_synthetic.labels]), augment=False)
    module = FinetuneModule(copy.deepcopy(net).train(), config.lr)
    keep = _KeepBest(report)
    with tempfile.TemporaryDirectory(prefix="har-finetune-") as work:
        logger = CSVLogger(work, name="", version="")
        trainer = L.Trainer(
            max_epochs=config.epochs, max_time={"seconds": config.max_train_seconds}, accelerator="cpu", devices=1,
            deterministic=True, logger=logger, use_distributed_sampler=False, num_sanity_val_steps=0,
            callbacks=[keep, EarlyStopping(monitor="val_loss", mode="min", patience=config.patience)],
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=10,
        )
        trainer.fit(module, DataLoader(train_set, batch_size=config.batch_size, sampler=sampler,
                                       collate_fn=_TargetsCollate(train_set, is_user, copy.deepcopy(net).eval()),
                                       drop_last=True),
                    DataLoader(val_set, batch_size=1024, collate_fn=val_set.collate))
        curves = epoch_curves(Path(logger.log_dir) / METRICS_FILE)
    tuned = module.net
    if keep.best_state is not None:
        tuned.load_state_dict(keep.best_state)
    return tuned.eval(), curves


def _classifier(net: ActionLSTM | ActionEnsemble) -> ActionClassifier:
    """An in-memory network wrapped as the pipeline's classifier, so it is scored exactly as it will run."""
    return ActionClassifier(net=net.eval(), model_id="", classes=CLASSES, device=torch.device("cpu"), config={})


def cross_validated(net: ActionLSTM | ActionEnsemble, user: LabelledWindows, synthetic: WindowSet,
                    val_synthetic: WindowSet, config: FinetuneConfig,
                    progress: Callable[[Progress], None]) -> np.ndarray | None:
    """Predicted class of every labelled window by a model fine-tuned without its unit (run, range or stretch).

    Returns None when there is a single unit, or `config.folds` is below 2.
    """
    groups = units(user)
    unique = np.unique(groups)
    folds = min(config.folds, len(unique))
    if folds < 2:
        return None
    fold_of = {unit: k % folds for k, unit in enumerate(np.random.default_rng(config.seed).permutation(unique))}
    config = replace(config, max_train_seconds=config.cv_seconds / folds)
    assigned = np.array([fold_of[g] for g in groups])
    predicted = np.zeros(len(user), dtype=np.int64)
    for fold in range(folds):
        stage = f"cross-validation {fold + 1}/{folds}"
        tuned, _ = train_on(net, user.subset(assigned != fold), synthetic, val_synthetic, config,
                            lambda done, total, stage=stage: progress(Progress(stage, done, total, 0.0, None)))
        test = user.subset(assigned == fold)
        predicted[assigned == fold] = evaluate_windows(_classifier(tuned), _as_window_set(test), "fold").predicted
    return predicted


def held_out_sets(config: FinetuneConfig) -> dict[str, WindowSet]:
    """The model card's held-out sets at the configured size: simulated windows drawn exactly as
    `python -m models.evaluate` draws them (its seed and clip stride), and the held-out motion capture."""
    sets = {"simulated": generate_windows(config.held_out_windows, seed=EVAL_SEED, mocap=False,
                                          workers=config.workers, stride=HELD_OUT_STRIDE)}
    if _use_mocap(config):
        sets["mocap"] = mocap_validation_windows(seed=EVAL_SEED)
    return sets


def _use_mocap(config: FinetuneConfig) -> bool:
    return MOCAP_DIR.is_dir() if config.mocap is None else config.mocap


def _accuracy(result: LabelledResult) -> dict:
    return {"n": len(result.truth), "accuracy": result.accuracy, "balanced_accuracy": result.balanced_accuracy}


def finetune(ranges: list[LabelledRange], out: Path, base: Path | None = None,
             config: FinetuneConfig = FinetuneConfig(),
             progress: Callable[[Progress], None] | None = None) -> FinetuneResult:
    """Fine-tune the `base` checkpoint (default: the shipped one) on labelled ranges and write it to `out`.

    Raises:
        LabelError: a range is invalid (see `har_core.user_labels.check_range`) or too few windows are labelled.
        ModelError: the base checkpoint cannot be loaded.
    """
    with _torch_threads(config.threads):
        return _finetune(ranges, Path(out), base, config, progress or (lambda _: None))


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run with `count` torch threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _finetune(ranges: list[LabelledRange], out: Path, base: Path | None, config: FinetuneConfig,
              progress: Callable[[Progress], None]) -> FinetuneResult:
    started = time.perf_counter()
    base_classifier = ActionClassifier.load(base, device="cpu")
    every = max(1, math.ceil(labelled_seconds(ranges) * CLASSIFIER_FPS / config.max_user_windows))
    progress(Progress("reading labels", 0, None, 0.0, None))
    user = labelled_windows(ranges, every)
    if len(user) < config.min_windows:
        raise LabelError(f"Only {len(user)} labelled windows (one per 1/{CLASSIFIER_FPS:g} s of a labelled range, "
                         f"from the person's first full second on); fine-tuning needs at least "
                         f"{config.min_windows * every}: label more footage.")
    progress(Progress("generating synthetic windows", 0, None, 0.0, None))
    mocap = _use_mocap(config)
    synthetic = generate_windows(config.synthetic_windows, seed=SYNTHETIC_SEED + config.seed, mocap=mocap,
                                 workers=config.workers, mocap_share=config.replay_mocap_share)
    val_synthetic = generate_windows(max(config.synthetic_windows // 6, 7), seed=SYNTHETIC_SEED + config.seed + 1,
                                     mocap=mocap, workers=config.workers, mocap_share=config.replay_mocap_share)
    held_out = held_out_sets(config)

    base_net = base_classifier.net
    labelled = _as_window_set(user)
    before = evaluate_windows(base_classifier, labelled, "labelled")
    evaluation: dict = {"labelled": {"before": _accuracy(before), "after": None,
                                     "units": len(np.unique(units(user)))}}
    for name, windows in held_out.items():
        evaluation[name] = {"before": _accuracy(evaluate_windows(base_classifier, windows, name))}
    predicted = cross_validated(base_net, user, synthetic, val_synthetic, config, progress)
    if predicted is not None:
        evaluation["labelled"]["after"] = _accuracy(LabelledResult("labelled", "windows", user.labels, predicted))

    tuned, curves = train_on(base_net, user, synthetic, val_synthetic, config,
                             lambda done, total: progress(Progress("fine-tuning", done, total, 0.0, None)))
    progress(Progress("evaluating", 0, None, 0.0, None))
    for name, windows in held_out.items():
        evaluation[name]["after"] = _accuracy(evaluate_windows(_classifier(tuned), windows, name))
    seconds = time.perf_counter() - started
    metadata = {
        "base_model_id": base_classifier.model_id,
        "finetune": {
            "created": time.time(),
            "labels": [r.to_dict() for r in ranges],
            "windows": len(user),
            "every": every,
            "per_class": user.per_class(),
            "synthetic_windows": len(synthetic),
            "config": asdict(config),
            "seconds": round(seconds, 1),
        },
        "evaluation": evaluation,
        "date": datetime.date.today().isoformat(),
    }
    model_id = _write_model(tuned, out, metadata, curves)
    return FinetuneResult(model_id, base_classifier.model_id, out, len(user), user.per_class(), evaluation, seconds,
                          curves)


def _write_model(net: ActionLSTM | ActionEnsemble, out: Path, metadata: dict, curves: list[dict]) -> str:
    """Write the checkpoint into a staging sibling and rename it into place (replacing an earlier checkpoint)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / CONFIG_FILE).is_file())):
        raise OutputError(f"{out} exists and is not a model folder; choose a new or empty folder.")
    staging = out.with_name(f".{out.name}.partial")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        model_id = save_checkpoint(net, staging, metadata)
        write_curves([curves], staging / METRICS_FILE)
        if out.exists():
            shutil.rmtree(out)
        staging.replace(out)
    except OSError as exc:
        raise OutputError(f"Cannot write the model to {out}: {exc.strerror or exc}.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_id


def run_job(labels_csv: Path, out: Path, base: Path | None, options: dict,
            progress: Callable[[Progress], None]) -> None:
    """The dashboard's fine-tuning job (`har_core.user_models.FinetuneJobs`): options {"tiny": bool}."""
    config = TINY if options.get("tiny") else FinetuneConfig()
    finetune(read_labels_csv(labels_csv), out, base, config, progress)


def summary_lines(result: FinetuneResult) -> list[str]:
    """The before/after figures in a few lines, for the command line."""
    counts = ", ".join(f"{name} {n}" for name, n in result.per_class.items())
    lines = [(f"model {result.model_id} (from {result.base_model_id}) -> {result.out}: {result.windows} labelled "
             f"windows ({counts}); {result.seconds:.0f} s")]
    for name, figures in result.evaluation.items():
        before, after = figures.get("before"), figures.get("after")
        text = f"{before['accuracy']:.3f}" if before and before["accuracy"] is not None else "–"
        text += f" -> {after['accuracy']:.3f}" if after and after["accuracy"] is not None else " -> (not scored)"
        lines.append(f"  accuracy on {name} windows: {text}" + (" (cross-validated)" if name == "labelled" else ""))
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m models.finetune", description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path, help="LABELS.csv: results, person_id, start_s, end_s, label")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write (a checkpoint)")
    parser.add_argument("--base", type=Path, default=None, help="checkpoint to start from (default: the shipped one)")
    parser.add_argument("--folds", type=int, default=None, help="cross-validation folds by run (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mocap", action="store_true", help="no motion capture, even when ../shared has it")
    parser.add_argument("--tiny", action="store_true", help="toy-size data and one or two epochs (tests)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner per training (folds + final)
    config = replace(TINY if args.tiny else FinetuneConfig(), seed=args.seed)
    if args.folds is not None:
        config = replace(config, folds=max(args.folds, 0))
    if args.no_mocap:
        config = replace(config, mocap=False)
    try:
        result = finetune(read_labels_csv(args.labels), args.out, args.base, config)
    except HarError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return error.exit_code
    print("\n".join(summary_lines(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
