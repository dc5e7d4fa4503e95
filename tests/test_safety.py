"""Safety: upload names never become paths, inputs never open other files, models load only safely, the store
serves only its own finished files.

What other suites already prove is not repeated here (docs/reliability.md lists them): name sanitising and
path confinement in tests/test_store.py, tampered or pickled action checkpoints in tests/test_classifier.py,
tampered MoveNet weights in tests/test_pose_movenet.py.
"""

from __future__ import annotations

import ast
import os
import pickle
import shutil
import string
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
import torch

from har_core import classifier
from har_core.classifier import DEFAULT_CHECKPOINT, WEIGHTS_FILE
from har_core.cli import main
from har_core.errors import ModelError, VideoError
from har_core.pipeline import analyze
from har_core.pose.detectron2 import Detectron2Backend
from har_core.store import LOCK_FILE, RESULT_FILES, VIDEO_SUFFIXES, RunStore, new_run_id
from tests.media import make_video
from tests.reliability_corpus import person_video

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("har_core", "models", "dashboard")


# -- upload names ----------------------------------------------------------------------------------


def hostile_names(count: int, seed: int = 0) -> list[str]:
    """Names built from path syntax, control and invisible characters, reserved names and length."""
    rng = np.random.default_rng(seed)
    parts = ["..", ".", "/", "\\", "C:", "~", "\x00", "\n", "\r", "\x1b[2J", "\u202e", "\u200b", "\ufeff",
             "index.sqlite3", LOCK_FILE, "results", "input.mp4", "%2e%2e%2f", "$(rm -rf ~)", "clip", ".mp4",
             ".MOV", ".m3u8", "*", "?", "|", "\t", "x" * 300]
    return [os.path.join(*rng.choice(parts, size=int(rng.integers(1, 8))).tolist()) if index % 2 else
            "".join(rng.choice(parts, size=int(rng.integers(1, 8))).tolist()) for index in range(count)]


def test_upload_names_never_become_paths(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in hostile_names(40):
        new = store.create_run(b"not really a video", name, f"key {name!r}", {}, "m")
        record = new.record
        new.lock.release()
        assert store.input_path(record).parent == store.root / record.id
        assert record.input_file in {f"input{suffix}" for suffix in (*VIDEO_SUFFIXES, ".bin")}
        assert sorted(p.name for p in (store.root / record.id).iterdir()) == sorted([LOCK_FILE, record.input_file])
        shown = record.name
        assert 0 < len(shown) <= 120 and "/" not in shown and "\\" not in shown
        assert not any(unicodedata.category(ch).startswith("C") for ch in shown), repr(shown)
    runs = {record.id for record in store.list_runs()}
    assert {p.name for p in store.root.iterdir()} == runs | {"index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "runs"] and not any(outside.iterdir())


# -- inputs that refer to other files --------------------------------------------------------------


PROBE_PLAYLIST = """
import sys
from pathlib import Path
from har_core.errors import VideoError
from har_core.video import probe
try:
    probe(Path(sys.argv[1]))
except VideoError as error:
    print(error)
"""


@pytest.mark.parametrize("kind", ["hls-to-fifo", "hls-to-video", "concat-to-video"])
def test_playlists_are_refused_without_opening_what_they_list(kind: str, tmp_path: Path) -> None:
    """A playlist naming a FIFO would block FFmpeg forever if it were opened; one naming a video would be
    analysed instead of the upload. Both must end at once in a VideoError."""
    secret = make_video(tmp_path / "someone-elses.ts", frames=8, container="mpegts")
    fifo = tmp_path / "blocks.ts"
    os.mkfifo(fifo)
    target = fifo if kind == "hls-to-fifo" else secret
    if kind.startswith("hls"):
        playlist = tmp_path / "upload.m3u8"
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{target}\n#EXT-X-ENDLIST\n")
    else:
        playlist = tmp_path / "upload.mp4"
        playlist.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    run = subprocess.run([sys.executable, "-c", PROBE_PLAYLIST, str(playlist)], capture_output=True, text=True,
                         cwd=REPO, timeout=60, check=False)
    assert run.stdout.startswith("Not a video file: it is a playlist"), run.stdout + run.stderr


# -- model files -----------------------------------------------------------------------------------


UNSAFE_LOADERS = {"pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "dill.loads", "joblib.load",
                  "cloudpickle.load", "marshal.load", "marshal.loads", "shelve.open", "yaml.unsafe_load"}


def unsafe_calls(source: str) -> list[str]:
    """Calls in `source` that can run code hidden in a data file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if name in UNSAFE_LOADERS:
            found.append(name)
        elif name == "torch.load" and keywords.get("weights_only") != "True":
            found.append("torch.load without weights_only=True")
        elif name in {"np.load", "numpy.load"} and keywords.get("allow_pickle", "False") != "False":
            found.append("np.load with allow_pickle")
        elif name == "yaml.load" and "Safe" not in keywords.get("Loader", ""):
            found.append("yaml.load without a safe Loader")
    return found


def test_no_code_loads_data_with_an_unsafe_deserialiser() -> None:
    assert unsafe_calls("torch.load(f)\nnp.load(f, allow_pickle=True)\npickle.loads(b)\ntorch.load(f, weights_only=True)") \
        == ["torch.load without weights_only=True", "np.load with allow_pickle", "pickle.loads"]
    offenders = {str(path.relative_to(REPO)): calls for folder in SOURCE_DIRS for path in (REPO / folder).rglob("*.py")
                 if (calls := unsafe_calls(path.read_text(encoding="utf-8")))}
    assert offenders == {}


@pytest.fixture
def tampered_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped checkpoint with one weight byte changed, installed as the default checkpoint."""
    folder = tmp_path / "checkpoint"
    shutil.copytree(DEFAULT_CHECKPOINT, folder)
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(classifier, "DEFAULT_CHECKPOINT", folder)
    return folder


def test_tampered_action_model_is_refused_before_any_work(tampered_checkpoint: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    video = tmp_path / "wave.mp4"
    person_video(video)
    with pytest.raises(ModelError, match="was modified"):
        analyze(video, tmp_path / "out")
    assert main(["analyze", str(video), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Model checkpoint") and "was modified" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "wave.mp4"]


class _Exploit:
    """Unpickling this creates a file: proof that a loader ran code from a weights file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def fake_detectron2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Just enough of detectron2 for `Detectron2Backend.load`; its checkpointer unpickles as the real one does."""

    class UnpicklingCheckpointer:
        def __init__(self, model: torch.nn.Module) -> None:
            self.model = model

        def load(self, path: str) -> dict:
            with open(path, "rb") as handle:  # what detectron2 does with .pkl (and torch.load with .pth)
                return pickle.load(handle)

    def get_cfg() -> SimpleNamespace:
        return SimpleNamespace(
            merge_from_file=lambda path: None,
            MODEL=SimpleNamespace(WEIGHTS="", DEVICE="", ROI_HEADS=SimpleNamespace(SCORE_THRESH_TEST=0.0)),
            INPUT=SimpleNamespace(FORMAT="BGR", MIN_SIZE_TEST=800, MAX_SIZE_TEST=1333),
        )

    modules = {
        "detectron2": {"model_zoo": SimpleNamespace(get_config_file=lambda name: name,
                                                    get_checkpoint_url=lambda name: "https://example.invalid/x.pkl")},
        "detectron2.checkpoint": {"DetectionCheckpointer": UnpicklingCheckpointer},
        "detectron2.config": {"get_cfg": get_cfg},
        "detectron2.modeling": {"build_model": lambda cfg: torch.nn.Identity()},
    }
    for name, attributes in modules.items():
        module = ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("suffix", [".pkl", ".pth"])
def test_detectron2_refuses_local_weights_that_could_run_code(suffix: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake_detectron2(monkeypatch)
    marker = tmp_path / "code-ran"
    weights = tmp_path / f"model{suffix}"
    weights.write_bytes(pickle.dumps({"model": _Exploit(marker)}))
    with pytest.raises(ModelError):
        Detectron2Backend.load(device="cpu", weights=weights)
    assert not marker.exists()


# -- the store serves only its own finished files -------------------------------------------------


def test_run_ids_are_random_not_derived_from_time_or_content() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert len({run_id[:4] for run_id in ids}) > 1900  # no shared prefix (a clock, a counter)
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert set("".join(ids)) == alphabet  # all 64 symbols in use: 6 random bits per character


def finished_run(store: RunStore) -> str:
    new = store.create_run(b"clip", "clip.mp4", "k", {}, "m")
    run_id = new.record.id
    store.mark_running(run_id, os.getpid())
    store.results_dir(run_id).mkdir()
    for name in RESULT_FILES:
        (store.results_dir(run_id) / name).write_text(name)
    store.mark_done(run_id, 1.0, 1, [], "m")
    new.lock.release()
    return run_id


def test_a_run_folder_swapped_for_a_link_outside_is_neither_served_nor_followed(tmp_path: Path) -> None:
    """Someone with access to the disk replaces a run folder by a symlink: nothing outside may be served or
    deleted, and the pages must get "no file" rather than an exception."""
    store = RunStore(tmp_path / "runs")
    run_id = finished_run(store)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(store.root / run_id, elsewhere)
    (store.root / run_id).symlink_to(elsewhere, target_is_directory=True)
    assert all(store.result_file(run_id, name) is None for name in RESULT_FILES)
    assert store.delete(run_id)
    assert store.get(run_id) is None and not (store.root / run_id).is_symlink()
    assert sorted(p.name for p in (elsewhere / "results").iterdir()) == sorted(RESULT_FILES)


def test_cli_and_api_refuse_a_playlist_given_directly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    secret = make_video(tmp_path / "secret.ts", frames=40, container="mpegts")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.3,\n{secret}\n#EXT-X-ENDLIST\n")
    assert main(["analyze", str(playlist), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: Not a video file: it is a playlist")
    with pytest.raises(VideoError, match="playlist"):
        analyze(playlist, tmp_path / "out")
