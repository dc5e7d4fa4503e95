"""The causal live step on rendered figures: the labels `analyze` gives, warm-up, a person leaving and coming
back, and the stream wrapper's dropping, history and recording."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import rolling_probabilities
from dashboard.components.live import ICE_SERVERS_ENV, ice_servers
from har_core.classifier import DEFAULT_CHECKPOINT, ActionClassifier
from har_core.errors import HarError, ModelError
from har_core.features import KEYPOINT_THRESHOLD, WINDOW
from har_core.live import WARMING_UP, LiveRecognizer, LiveResult, LiveSettings
from har_core.live_stream import LiveStream
from har_core.outputs import load_results
from har_core.pipeline import AnalysisSettings, analyze
from har_core.pose import create_pose_backend
from har_core.skeleton import CLASSES, NUM_CLASSES
from har_core.timeline import NO_WINDOW
from har_core.video import iter_frames, probe
from models.synth.scenes import PersonSpec, group_camera, write_scene_video
from tests.reliability_corpus import waving

SIZE = (256, 192)
INPUT_SIZE = 256  # the clips' longer side, so `analyze` estimates poses on the decoded frames themselves
WAVE_FPS, WAVE_FRAMES = 30.0, 60
AWAY_FPS, AWAY_FRAMES = 15.0, 66
AWAY = (24, 41)  # frames (inclusive) on which the figure is wholly outside the picture: 1.2 s, beyond ByteTrack's 1 s


def leave_and_return() -> list[PersonSpec]:
    """A waving figure that walks out of the right edge, stays away, and comes back to the same spot."""
    first, last = AWAY
    keys = ((0.0, 0.0, 0.0), ((first - 3) / AWAY_FPS, 0.0, 0.0), (first / AWAY_FPS, 4.0, 0.0),
            (last / AWAY_FPS, 4.0, 0.0), ((last + 3) / AWAY_FPS, 0.0, 0.0))
    return [PersonSpec(waving(AWAY_FRAMES, AWAY_FPS), path=keys)]


CLIPS = {
    "wave_30fps": (WAVE_FPS, WAVE_FRAMES, lambda: [PersonSpec(waving(WAVE_FRAMES, WAVE_FPS))]),
    "leave_and_return_15fps": (AWAY_FPS, AWAY_FRAMES, leave_and_return),
}


@pytest.fixture(scope="module")
def models() -> tuple:
    """One pose backend and classifier for every recognizer in the module (loading is the slow part)."""
    return create_pose_backend("movenet", input_size=INPUT_SIZE), ActionClassifier.load()


def recognizer(models: tuple, fps: float | None) -> LiveRecognizer:
    return LiveRecognizer(LiveSettings(input_size=INPUT_SIZE, fps=fps), backend=models[0], classifier=models[1])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("live")
    paths = {}
    for name, (fps, frames, people) in CLIPS.items():
        paths[name] = folder / f"{name}.mp4"
        write_scene_video(paths[name], people(), group_camera(SIZE, span=1.0), fps=fps, seconds=frames / fps,
                          background="plain", seed=4)
    return paths


@pytest.fixture(scope="module")
def live_recognizers(clips: dict[str, Path], models: tuple) -> dict[str, LiveRecognizer]:
    """One recognizer per clip, told the file's frame rate as a file reader would be."""
    return {name: recognizer(models, float(probe(path).fps)) for name, path in clips.items()}


@pytest.fixture(scope="module")
def live_runs(clips: dict[str, Path], live_recognizers: dict[str, LiveRecognizer]) -> dict[str, list[LiveResult]]:
    """Each clip through its recognizer, frame by frame."""
    return {name: list(live_recognizers[name].run(iter_frames(path))) for name, path in clips.items()}


@pytest.mark.parametrize("name", list(CLIPS))
def test_labels_match_analyze_without_smoothing(name: str, clips: dict[str, Path], live_runs, tmp_path: Path) -> None:
    """Every frame whose label `analyze` could know causally gets the same label and probabilities live.

    `analyze` bridges a joint missing in a window's last samples with later frames; live cannot, so frames
    where the person's keypoints were not all seen are left out of the comparison (they are few).
    """
    out = analyze(clips[name], tmp_path / "out", AnalysisSettings(input_size=INPUT_SIZE, pose_every=1, smoothing=0))
    run = load_results(out.out_dir)
    offline = run.frames.set_index(["frame", "person_id"])
    all_seen = run.keypoints.groupby(["frame", "person_id"])["score"].min() >= KEYPOINT_THRESHOLD
    compared = labelled = 0
    for result in live_runs[name]:
        for person_id, person in zip(result.poses.track_ids.tolist(), result.people, strict=True):
            expected = offline.loc[(result.index, person_id)]
            if not all_seen.get((result.index, person_id), False):
                continue
            assert (NO_WINDOW if person.warming_up else person.label) == expected["label"], (result.index, person_id)
            np.testing.assert_allclose(person.probs, expected[[f"p_{c}" for c in CLASSES]].to_numpy(float),
                                       atol=1e-4, equal_nan=True)
            compared += 1
            labelled += not person.warming_up
    present = (run.frames["label"] != "ABSENT").sum()
    assert compared >= 0.9 * present and labelled >= 10


def test_warm_up_lasts_one_window_then_the_action_shows(clips: dict[str, Path], models: tuple) -> None:
    """By timestamps (as from a camera): 31 samples of warming up after a person's first frame, then labels."""
    live = recognizer(models, fps=None)
    results = list(live.run(itertools.islice(iter_frames(clips["wave_30fps"]), WINDOW + 12)))
    labels = [result.people[0].label if result.people else None for result in results]
    first = next(i for i, label in enumerate(labels) if label is not None)
    assert first <= 2
    assert labels[first : first + WINDOW - 1] == [WARMING_UP] * (WINDOW - 1)
    shown = labels[first + WINDOW - 1 :]
    assert WARMING_UP not in shown and shown.count("WAVING_1HAND") >= 0.8 * len(shown)
    warm, ready = results[first], results[-1]
    assert np.isnan(warm.people[0].probs).all() and np.isnan(warm.people[0].confidence)
    assert ready.people[0].probs.shape == (NUM_CLASSES,) and abs(ready.people[0].probs.sum() - 1) < 1e-3

    image = next(iter_frames(clips["wave_30fps"])).image
    drawn = live.annotate(image.copy(), ready)
    assert (drawn != image).any(axis=2).mean() > 0.005  # skeleton, tag and class bars


def test_person_leaving_and_coming_back_keeps_id_and_warms_up_again(live_runs, live_recognizers) -> None:
    results = live_runs["leave_and_return_15fps"]
    ids = [result.poses.track_ids.tolist() for result in results]
    first, last = AWAY
    assert all(not people for people in ids[first : last + 1])  # nobody while the figure is away
    before = {i for people in ids[:first] for i in people}
    after = {i for people in ids[last + 1 :] for i in people}
    assert before == after == {0}
    labels = [result.people[0].label for result in results if result.people]
    back = [result.people[0].label for result in results[last + 1 :] if result.people]
    # Back after 1.2 s: the window holds too few sightings until a third of it is new samples (~0.4 s).
    assert back[0] == WARMING_UP and WARMING_UP not in back[-10:]
    assert labels.count("WAVING_1HAND") >= 15

    # Nobody in view: the person's samples are kept while the tracker could still give the id back.
    live, blank = live_recognizers["leave_and_return_15fps"], np.full((SIZE[1], SIZE[0], 3), 128, dtype=np.uint8)
    end = results[-1].time_s
    assert live.people_tracked == 1 and not live.step(blank, end + 5.0).people
    assert live.people_tracked == 1
    live.step(blank, end + 5.0 + live.forget_after_s)
    assert live.people_tracked == 0


def test_stream_drops_all_but_the_newest_frame_and_records_only_while_on(clips: dict[str, Path], models: tuple,
                                                                        tmp_path: Path) -> None:
    stream = LiveStream(LiveSettings(input_size=INPUT_SIZE), history_s=1.0,
                        recognizer=lambda settings: LiveRecognizer(settings, backend=models[0], classifier=models[1]))
    frames = [(frame.image, frame.time_s) for frame in itertools.islice(iter_frames(clips["wave_30fps"]), 48)]
    stream.record_into(tmp_path)
    for start in range(0, 24, 2):  # two frames arrive per step: the older one is dropped
        annotated = stream.process(frames[start : start + 2])
    assert annotated.shape == frames[0][0].shape and (annotated != frames[23][0]).any()
    stream.record_into(None)  # recording off: the first recording is finished, the rest is not kept
    for start in range(24, 48, 2):
        stream.process(frames[start : start + 2])
    snapshot = stream.snapshot()
    assert (snapshot.stats.received, snapshot.stats.processed, snapshot.stats.dropped_share) == (48, 24, 0.5)
    assert snapshot.stats.processed_fps > 0 and snapshot.stats.median_step_ms > 0
    assert [person.person_id for person in snapshot.people] == [0] and not snapshot.recording
    history = snapshot.histories[0]
    np.testing.assert_allclose(history.times, [t for _, t in frames[17:48:2]])  # the last second, processed frames
    assert history.probs.shape == (len(history.times), NUM_CLASSES) and not np.isnan(history.probs[-1]).any()

    recordings = stream.stop()
    assert len(recordings) == 1 and recordings[0].parent == tmp_path
    info = probe(recordings[0])
    assert info.frame_count == 24 and (info.width, info.height) == SIZE  # every received frame, dropped or not
    assert stream.snapshot().stats.received == 0 and stream.snapshot().histories == {}
    stream.process(frames[:1], skipped=3)  # a caller that is not recording passes only the newest frame
    assert stream.snapshot().stats.dropped_share == 0.75
    assert stream.stop() == [] and list(tmp_path.iterdir()) == recordings


def test_ice_servers_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ICE_SERVERS_ENV, raising=False)
    assert ice_servers() == []  # localhost and LAN need no outside server
    servers = [{"urls": ["stun:stun.example.org:3478"]}, {"urls": "turn:t.example.org", "username": "u", "credential": "p"}]
    monkeypatch.setenv(ICE_SERVERS_ENV, json.dumps(servers))
    assert ice_servers() == servers
    for bad in ("[{", '{"urls": "stun:x"}', '[{"url": "stun:x"}]'):
        monkeypatch.setenv(ICE_SERVERS_ENV, bad)
        with pytest.raises(HarError, match=ICE_SERVERS_ENV):
            ice_servers()


def test_live_page_reports_bad_ice_servers_instead_of_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv(ICE_SERVERS_ENV, "[{")
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=60)
    at.run().switch_page("pages/live.py").run()
    assert not at.exception
    assert at.title[0].value == "Live" and [toggle.label for toggle in at.toggle] == ["Record"]
    assert at.error[0].value.startswith(f"{ICE_SERVERS_ENV} is not valid JSON")


def test_recording_survives_a_resolution_change_and_reports_a_failure(clips: dict[str, Path], models: tuple,
                                                                     tmp_path: Path) -> None:
    stream = LiveStream(LiveSettings(input_size=INPUT_SIZE),
                        recognizer=lambda settings: LiveRecognizer(settings, backend=models[0], classifier=models[1]))
    frames = [(frame.image, frame.time_s) for frame in itertools.islice(iter_frames(clips["wave_30fps"]), 6)]
    smaller = [(image[::2, ::2].copy(), time_s) for image, time_s in frames[3:]]  # the browser lowered its resolution
    stream.record_into(tmp_path)
    stream.process(frames[:3])
    stream.process(smaller)
    stream.finish_recording()  # the camera's track ended: the file is complete before the page stops the stream
    (finished,) = tmp_path.glob("*.mp4")
    assert probe(finished).frame_count == 6
    (recording,) = stream.stop()
    info = probe(recording)
    assert info.frame_count == 6 and (info.width, info.height) == SIZE

    gone = tmp_path / "removed"
    stream.record_into(gone)  # a folder that does not exist: nothing can be written
    annotated = stream.process(frames[:2])
    snapshot = stream.snapshot()
    assert annotated.shape == frames[0][0].shape and snapshot.stats.processed == 1  # the stream goes on
    assert not snapshot.recording and snapshot.record_error.startswith("Recording stopped: Cannot write the video")
    assert stream.stop() == [] and not gone.exists()


def test_rolling_chart_scrolls_with_the_stream() -> None:
    times = np.array([10.0, 10.5, 11.0, 12.0])
    probs = np.full((4, NUM_CLASSES), 1.0 / NUM_CLASSES, dtype=np.float32)
    probs[0] = np.nan  # warming up: a gap, not a zero
    figure = rolling_probabilities(times, probs, now_s=12.0, window_s=10.0, threshold=0.5)
    assert [trace.name for trace in figure.data] == list(CLASSES)
    assert list(figure.data[0].x) == [-2.0, -1.5, -1.0, 0.0] and np.isnan(figure.data[0].y[0])
    assert tuple(figure.layout.xaxis.range) == (-10.0, 0.0)


@pytest.mark.parametrize("runtime", ["litert", "openvino"])
def test_live_step_uses_the_chosen_pose_runtime_and_action_model(runtime: str, tmp_path: Path) -> None:
    """The live path takes the same runtime and model choices as an analysis (issues 17 and 21)."""
    model = tmp_path / "my-model"
    shutil.copytree(DEFAULT_CHECKPOINT, model)
    recognizer = LiveRecognizer(LiveSettings(input_size=INPUT_SIZE, pose_runtime=runtime, model=str(model)))

    assert recognizer.backend.info.runtime["name"] == runtime
    assert recognizer.classifier.model_id == ActionClassifier.load(model).model_id
    with pytest.raises(ModelError):
        LiveRecognizer(LiveSettings(input_size=INPUT_SIZE, model=str(tmp_path / "no-such-model")))
