"""Every dashboard page through Streamlit's AppTest, with real analyses in real worker processes.

One module-wide run store: the first 2.4 s of the bundled sample clip are uploaded and analysed once
(the whole clip takes the browser test's time), and the history, compare and delete tests build on it.
Bad inputs go through the same upload path a user takes and must end in st.error, never an exception,
with nothing but the stored input left in the run's folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.components.results import range_keys
from har_core.batch_table import BatchTableWriter, VideoRow
from har_core.classifier import DEFAULT_CHECKPOINT
from har_core.outputs import PROB_COLUMNS
from har_core.store import LOCK_FILE, THUMBNAIL_FILE, RunRecord, RunStatus, RunStore
from har_core.user_models import MODELS_DIR, ModelLibrary
from har_core.video import iter_frames
from tests.media import make_video

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
SAMPLE = ROOT / "har_core" / "data" / "sample.mp4"
TIMEOUT_S = 180
CLIP_FRAMES = 72


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("dashboard") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HAR_RUNS_DIR", str(folder))
        yield folder


def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    return at.run()


def settle(at: AppTest, runs_dir: Path) -> RunRecord:
    """Wait for the run in the app's URL to finish, then rerun the app to show it."""
    run_id = at.query_params["run"]
    store = RunStore(runs_dir, recover=False)
    deadline = time.monotonic() + TIMEOUT_S
    while (record := store.get(run_id)) is not None and record.active:
        assert time.monotonic() < deadline, "analysis did not finish in time"
        time.sleep(0.2)
    at.run()
    assert not at.exception, at.exception
    return record


def start(at: AppTest) -> AppTest:
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert "run" in at.query_params, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader, *at.title, *at.info])


@pytest.fixture(scope="module")
def sample_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's first frames, re-encoded: a real person doing real actions, analysed in seconds."""
    frames = [frame.image for _, frame in zip(range(CLIP_FRAMES), iter_frames(SAMPLE), strict=False)]
    height, width = frames[0].shape[:2]
    return make_video(tmp_path_factory.mktemp("clip") / "sample.mp4", size=(width, height), fps=30,
                      frames=len(frames), draw=lambda index, w, h: frames[index])


def upload(at: AppTest, path: Path) -> AppTest:
    return at.file_uploader(key="upload").set_value((path.name, path.read_bytes(), "video/mp4")).run()


@pytest.fixture(scope="module")
def sample_run(runs_dir: Path, sample_clip: Path) -> tuple[AppTest, RunRecord]:
    at = upload(app(), sample_clip)
    start(at)
    assert at.get("progress") or RunStore(runs_dir, recover=False).get(at.query_params["run"]).status == "done"
    record = settle(at, runs_dir)
    assert record.status == RunStatus.DONE, record.error
    return at, record


def copy_run(runs_dir: Path, source: RunRecord, name: str, batch: str = "") -> str:
    """A second finished run with the same results (real files), for history and comparison."""
    store = RunStore(runs_dir, recover=False)
    new = store.create_run(store.input_path(source), name, f"copy:{name}", source.settings, source.model_id,
                           batch=batch)
    store.mark_running(new.record.id, os.getpid())
    shutil.copytree(store.results_dir(source.id), store.results_dir(new.record.id))
    shutil.copyfile(store.run_dir(source.id) / THUMBNAIL_FILE, store.run_dir(new.record.id) / THUMBNAIL_FILE)
    store.mark_done(new.record.id, source.duration_s, source.people or 0, list(source.dominant), source.model_id)
    new.lock.release()
    return new.record.id


def test_analyze_page_offers_upload_sample_and_options(runs_dir: Path) -> None:
    at = app()
    assert not at.exception
    assert at.title[0].value == "Analyze a video"
    assert {".mp4", ".mov", ".avi", ".mkv", ".webm"} <= set(at.file_uploader(key="upload").allowed_type)
    assert at.button(key="run").disabled
    assert at.expander[0].label == "Options"
    assert at.selectbox(key="opt_backend").value == "movenet"
    assert at.selectbox(key="opt_runtime").value == "openvino"
    assert at.slider(key="opt_threshold").value == 0.5
    assert at.select_slider(key="opt_pose_every").options == ["auto", "1", "2", "3", "4"]
    at.segmented_control(key="source").set_value("Bundled sample clip").run()
    assert not at.button(key="run").disabled and at.get("video")


def test_sample_run_shows_the_results_view(sample_run: tuple[AppTest, RunRecord]) -> None:
    at, record = sample_run
    assert at.query_params["run"] == record.id
    assert at.title[0].value == "sample.mp4"
    assert [m.label for m in at.metric] == ["Duration", "Frames", "People tracked", "Analysis time"]
    assert len(at.get("video")) == 1
    assert len(at.get("plotly_chart")) >= 5  # timeline, skeleton, bars, trajectories, heatmap
    assert {b.label for b in at.get("download_button")} >= {"annotated.mp4", "frames.csv", "keypoints.csv",
                                                             "summary.json", "All as .zip"}
    assert len(at.dataframe) == 2
    slider = at.slider(key=f"frame:{record.id}")
    slider.set_value(40).run()
    assert not at.exception
    assert "frame 40 at" in texts(at)
    assert at.slider(key=f"frame:{record.id}").value == 40


def test_same_clip_and_settings_open_the_stored_result_at_once(sample_run: tuple[AppTest, RunRecord],
                                                               sample_clip: Path, runs_dir: Path) -> None:
    _, record = sample_run
    at = upload(app(), sample_clip)
    start(at)
    assert at.query_params["run"] == record.id
    assert not at.get("progress") and at.title[0].value == "sample.mp4"
    assert len(RunStore(runs_dir, recover=False).list_runs()) >= 1


@pytest.mark.parametrize(("name", "make", "expected"), [
    ("notes.mp4", lambda path: path.write_bytes(b"just some text, not a video\n" * 20), "video"),
    ("empty room.mp4", lambda path: make_video(path, frames=40), "No person"),
    ("blink.mp4", lambda path: make_video(path, frames=10), "at least 32"),
])
def test_bad_uploads_show_an_error_and_leave_nothing_half_written(runs_dir: Path, tmp_path: Path, name: str,
                                                                  make: object, expected: str) -> None:
    path = tmp_path / name
    make(path)
    at = upload(app(), path)
    start(at)
    record = settle(at, runs_dir)
    assert record.status == RunStatus.FAILED
    assert "Internal" not in record.error
    assert len(at.error) == 1 and expected in at.error[0].value and record.error in at.error[0].value
    store = RunStore(runs_dir, recover=False)
    assert sorted(p.name for p in store.run_dir(record.id).iterdir()) == [LOCK_FILE, "input.mp4"]
    assert store.result_file(record.id, "summary.json") is None


def test_person_selector_switches_between_tracked_people(sample_run: tuple[AppTest, RunRecord],
                                                         runs_dir: Path) -> None:
    """A result with a second person: the first one's data shifted right, with mirrored probabilities."""
    _, record = sample_run
    run_id = copy_run(runs_dir, record, "two people.mp4")
    results = RunStore(runs_dir, recover=False).results_dir(run_id)
    summary = json.loads((results / "summary.json").read_text())
    first = summary["primary_person_id"]
    second = first + 1
    frames = pd.read_csv(results / "frames.csv", keep_default_na=False)
    other = frames.assign(person_id=second)
    other[list(PROB_COLUMNS)] = frames[list(reversed(PROB_COLUMNS))].to_numpy()
    pd.concat([frames, other]).sort_values(["frame", "person_id"]).to_csv(results / "frames.csv", index=False)
    keypoints = pd.read_csv(results / "keypoints.csv")
    pd.concat([keypoints, keypoints.assign(person_id=second, x=keypoints["x"] + 100)]).to_csv(
        results / "keypoints.csv", index=False)
    summary["people"].append({**summary["people"][0], "person_id": second, "primary": False})
    (results / "summary.json").write_text(json.dumps(summary))

    at = app({"run": run_id})
    selector = at.segmented_control(key=f"person:{run_id}")
    assert selector.options == [f"Person {first} · primary", f"Person {second}"] and selector.value == first
    selector.set_value(second).run()
    assert not at.exception
    assert any(f"Person {second}" in m.value for m in at.markdown)


def test_runs_page_lists_history_and_deletes_a_run(sample_run: tuple[AppTest, RunRecord], runs_dir: Path) -> None:
    _, record = sample_run
    doomed = copy_run(runs_dir, record, "doomed.mp4")
    at = app()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert at.title[0].value == "Runs"
    shown = texts(at)
    assert "**sample.mp4**" in shown and "**doomed.mp4**" in shown
    assert f"{record.duration_s:.1f} s" in shown
    assert len(at.image) >= 2  # thumbnails
    at.button(key=f"delete:{doomed}").click().run()
    assert not at.exception
    assert "doomed.mp4" not in texts(at)
    assert RunStore(runs_dir, recover=False).get(doomed) is None and not (runs_dir / doomed).exists()
    at.text_input(key="runs_filter").input("no such clip").run()
    assert "0 of" in texts(at)


def test_runs_page_filters_by_batch_and_summarises_it(sample_run: tuple[AppTest, RunRecord], runs_dir: Path,
                                                      tmp_path: Path) -> None:
    _, record = sample_run
    in_batch = copy_run(runs_dir, record, "gym clip.mp4", batch="gym")
    store = RunStore(runs_dir, recover=False)
    summary = json.loads(store.result_file(in_batch, "summary.json").read_text())
    table = tmp_path / "batch.csv"
    with BatchTableWriter(table) as writer:
        writer.append(VideoRow.from_summary("/videos/gym clip.mp4", "gym clip", "done", summary, 3.0))
        writer.append(VideoRow.failed("/videos/broken.mp4", "broken", "Not a video file: the header is damaged."))
    store.save_batch_table("gym", table)
    at = app()
    at.switch_page("pages/runs.py").run()
    at.selectbox(key="runs_batch").set_value("gym").run()
    assert not at.exception, at.exception
    assert [(m.label, m.value) for m in at.metric] == [("Videos", "2"), ("Analysed", "1"), ("Already analysed", "0"),
                                                      ("Failed", "1")]
    shown = texts(at)
    assert "**gym clip.mp4**" in shown and "**sample.mp4**" not in shown and "batch gym" in shown
    assert [b.label for b in at.get("download_button")] == ["batch.csv"]
    assert len(at.get("plotly_chart")) == 1  # time per action across the batch's videos
    assert list(at.dataframe[0].value["video"]) == ["/videos/broken.mp4"]


def test_compare_page_overlays_two_runs(sample_run: tuple[AppTest, RunRecord], runs_dir: Path) -> None:
    _, record = sample_run
    copy_run(runs_dir, record, "second take.mp4")
    at = app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert len(at.multiselect(key="cmp_runs").value) == 2
    assert len(at.get("plotly_chart")) == 3  # overlaid timelines, time per action, difference
    assert any(s.value.startswith("Difference:") for s in at.subheader)
    assert len(at.dataframe) == 2
    at.multiselect(key="cmp_runs").set_value([record.id]).run()
    assert any("Pick two or more" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_model_page_shows_the_model_card() -> None:
    at = app()
    at.switch_page("pages/model.py").run()
    assert not at.exception
    assert at.title[0].value == "Action model"
    assert "Model id" in at.caption[0].value
    members = json.loads((DEFAULT_CHECKPOINT / "config.json").read_text()).get("members", 1)
    assert (f"ensemble of {members} networks" in at.caption[0].value) == (members > 1)
    assert any(s.value == "Classes" for s in at.subheader)
    # The shipped card describes the shipped checkpoint: its accuracies are shown, no stale-card warning, and
    # the real-footage figures lead, before the simulated and rendered diagnostics.
    labels = [metric.label for metric in at.metric]
    assert labels[:3] == ["clip accuracy, all real clips", "clip accuracy, decide part", "clip accuracy, confirm part"]
    assert "accuracy, simulated windows" in labels and "accuracy, rendered clips" in labels
    assert "real dev" not in " ".join(labels)
    assert [s.value for s in at.subheader][:2] == ["Real footage", "Diagnostics"]
    assert not at.warning


def test_unknown_run_in_the_url_is_an_error_not_a_crash(runs_dir: Path) -> None:
    at = app({"run": "../../etc/passwd"})
    assert not at.exception
    assert "no run with this id" in at.error[0].value


def test_unwritable_run_store_is_reported_on_every_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HAR_RUNS_DIR", str(blocker / "runs"))
    at = app()
    assert not at.exception
    assert "Cannot open the run store" in at.error[0].value and not at.button


def test_teach_flow_label_fine_tune_activate_compare_revert(sample_run: tuple[AppTest, RunRecord],
                                                            runs_dir: Path) -> None:
    """Label stretches of a run, fine-tune on them (toy size) in the background, use the new model, re-analyse
    the run with it and compare, then go back to the shipped model and delete the new one."""
    _, record = sample_run
    store, library = RunStore(runs_dir, recover=False), ModelLibrary(runs_dir / MODELS_DIR)
    person = json.loads(store.result_file(record.id, "summary.json").read_text())["primary_person_id"]
    at = app({"run": record.id})
    start_key, end_key = range_keys(record.id, person)
    for start_s, end_s, label in ((0.0, 2.4, "WAVING_2HANDS"), (0.5, 1.0, "JUMPING")):
        at.number_input(key=start_key).set_value(start_s)
        at.number_input(key=end_key).set_value(end_s)
        at.selectbox(key=f"label_class:{record.id}").set_value(label)
        at.button(key=f"label_add:{record.id}:{person}").click().run()
        assert not at.exception and not at.error
    first, second = store.labels(record.id)
    assert (first.start_s, first.end_s, first.label, first.person_id) == (0.0, 2.4, "WAVING_2HANDS", person)
    assert "labelled waving 2hands" in at.get("plotly_chart")[0].proto.spec  # the bands on the chart
    at.selectbox(key=f"relabel:{second.id}").set_value("CLAPPING_HANDS").run()
    assert store.labels(record.id)[1].label == "CLAPPING_HANDS"
    at.button(key=f"unlabel:{second.id}").click().run()
    assert [label.id for label in store.labels(record.id)] == [first.id]

    at.switch_page("pages/teach.py").run()
    assert not at.exception and at.title[0].value == "Teach the model"
    assert at.dataframe[0].value["class"].tolist() == ["WAVING_2HANDS"]
    at.toggle(key="finetune_quick").set_value(True).run()
    at.button(key="finetune").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deadline = time.monotonic() + TIMEOUT_S
    while not library.models():
        assert time.monotonic() < deadline, "fine-tuning did not finish in time"
        time.sleep(0.5)
    model = library.models()[0]
    at.run()
    assert any(f"Fine-tuned model {model.model_id} is ready" in s.value for s in at.success)
    assert at.dataframe[-1].value["set"].tolist()[0].startswith("your labelled windows")
    at.button(key=f"activate:{model.model_id}").click().run()
    assert library.active().model_id == model.model_id

    at = app({"run": record.id})
    at.button(key=f"reanalyse:{record.id}").click().run()
    assert at.query_params["vs"] == record.id and at.query_params["run"] != record.id
    again = settle(at, runs_dir)
    assert again.status == RunStatus.DONE and again.model_id == model.model_id, again.error
    at.button(key=f"compare_with:{again.id}").click().run()
    assert not at.exception and at.multiselect(key="cmp_runs").value == [record.id, again.id]

    at.switch_page("pages/teach.py").run()
    at.button(key="activate_shipped").click().run()
    assert library.active() is None
    at.button(key=f"delete_model:{model.model_id}").click().run()
    assert library.models() == [] and not at.exception
