"""Issue 5's bad-input corpus through both ways in, the CLI and `pipeline.analyze` (what the dashboard's jobs call).

Every file either ends in one specific, one-line `HarError` with nothing written (the CLI: exit code 2, one
`error:` line, a previous result left as it was), or gives a correct, possibly degraded, result whose
specifics are checked against the rendered truth. Then the input limits (duration, frames, resolution,
upload size) and the 8K downscale. The cases and what users see are listed in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from har_core.cli import main
from har_core.errors import HarError, LimitError
from har_core.outputs import FRAMES_FILE, KEYPOINTS_FILE, OUTPUT_FILES, VIDEO_FILE, load_results
from har_core.pipeline import AnalysisSettings, analyze
from har_core.skeleton import JOINT_INDEX
from har_core.timeline import ABSENT
from models.synth.scenes import SceneTruth
from tests.media import frame_times, make_video
from tests.reliability_corpus import (
    CASES,
    ERROR_CASES,
    FAST_INPUT_SIZE,
    REENTRY_AWAY,
    RESULT_CASES,
    decoded_frame_count,
    truth_of,
    write_8k,
    write_corpus,
    write_without_duration,
)

REPO = Path(__file__).resolve().parent.parent
MOVENET_MAX_PEOPLE = 6
B_FRAMES = 3  # libx264's default run of B-frames between references


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def cli(video: Path, out: Path, *options: str) -> int:
    return main(["analyze", str(video), "--out", str(out), "--quiet", *options])


def write_previous_result(out: Path) -> dict[str, str]:
    out.mkdir()
    for name in OUTPUT_FILES:
        (out / name).write_text(f"previous {name}")
    return {name: f"previous {name}" for name in OUTPUT_FILES}


# -- files that must be refused ------------------------------------------------------------------


@pytest.mark.parametrize("name", [case.name for case in ERROR_CASES])
def test_api_refuses_with_a_specific_error_and_writes_nothing(name: str, corpus: dict[str, Path],
                                                              tmp_path: Path) -> None:
    case = CASES[name]
    with pytest.raises(HarError) as caught:
        analyze(corpus[name], tmp_path / "out", AnalysisSettings(input_size=case.input_size))
    message = str(caught.value)
    assert type(caught.value) is case.error, message
    assert case.words in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # no result, no staging folder


@pytest.mark.parametrize("name", [case.name for case in ERROR_CASES])
def test_cli_prints_one_line_and_keeps_the_previous_result(name: str, corpus: dict[str, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    case = CASES[name]
    out = tmp_path / "out"
    previous = write_previous_result(out)
    code = cli(corpus[name], out, "--input-size", str(case.input_size))
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and case.words in captured.err
    assert {p.name: p.read_text() for p in out.iterdir()} == previous
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


NATIVE_NOISE = """
import os, sys
from har_core import cli
# 1. A real run that loads the pose model (LiteRT prints to file descriptor 2) and then fails.
code = cli.main(["analyze", sys.argv[1], "--out", sys.argv[2], "--quiet", "--input-size", "128",
                 "--pose-runtime", "litert"])
print(code, flush=True)
# 2. A bug (not a HarError): whatever native code printed is replayed with the traceback.
def bug(*args, **kwargs):
    os.write(2, b"native detail\\n")
    raise RuntimeError("a bug")
cli.analyze = bug
cli.main(["analyze", sys.argv[1], "--out", sys.argv[2], "--quiet"])
"""


def test_cli_process_stderr_is_one_line_but_a_bug_keeps_its_detail(corpus: dict[str, Path], tmp_path: Path) -> None:
    """In a real process: native chatter (LiteRT's XNNPACK banner) must not add a line to an error."""
    run = subprocess.run([sys.executable, "-c", NATIVE_NOISE, str(corpus["no-person"]), str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert run.stdout == "2\n"
    first, *rest = run.stderr.splitlines()
    assert first == "error: No person was found in the video."
    assert rest[0] == "native detail" and rest[-1] == "RuntimeError: a bug", run.stderr
    assert not (tmp_path / "out").exists()


# -- files that must give a (degraded) result ----------------------------------------------------


@pytest.fixture(scope="module")
def analysed(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """analysed(case, via) -> output folder of the case analysed through "api" or "cli", each run once."""
    done: dict[tuple[str, str], Path] = {}

    def run(name: str, via: str) -> Path:
        if (name, via) not in done:
            out = tmp_path_factory.mktemp(f"{name}-{via}") / "out"
            size = CASES[name].input_size
            if via == "api":
                analyze(corpus[name], out, AnalysisSettings(input_size=size))
            else:
                assert cli(corpus[name], out, "--input-size", str(size)) == 0
            done[name, via] = out
        return done[name, via]

    return run


def decoded(path: Path) -> tuple[str, str, tuple[int, int], list[float]]:
    """Codec, pixel format, size and frame times of a video, read with PyAV directly."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * frame.time_base) for frame in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, (stream.width, stream.height), times


def keypoint_error(keypoints: pd.DataFrame, truth: SceneTruth, person: int = 0) -> float:
    """Median pixel distance between confident reported joints and the rendered truth of `person`."""
    confident = keypoints[keypoints["score"] > 0.4]
    expected = truth.keypoints[confident["frame"].to_numpy(), person,
                               confident["joint"].map(JOINT_INDEX).to_numpy(), :2]
    return float(np.median(np.linalg.norm(confident[["x", "y"]].to_numpy() - expected, axis=1)))


VIA = ["api", "cli"]


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("name", [case.name for case in RESULT_CASES])
def test_result_is_complete_and_consistent(name: str, via: str, analysed) -> None:
    out = analysed(name, via)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    assert [p.name for p in out.parent.iterdir()] == ["out"]
    run = load_results(out)
    video = run.summary["video"]
    n_frames, people = video["frames_decoded"], [p["person_id"] for p in run.summary["people"]]
    assert people and len(run.frames) == n_frames * len(people)
    codec, pix_fmt, (width, height), times = decoded(out / VIDEO_FILE)
    assert (codec, pix_fmt, len(times)) == ("h264", "yuv420p", n_frames)
    assert width % 2 == 0 and height % 2 == 0
    assert (width - video["analysed_width"], height - video["analysed_height"]) in {(0, 0), (0, 1), (1, 0), (1, 1)}


@pytest.mark.parametrize("name", [case.name for case in RESULT_CASES])
def test_cli_and_api_give_the_same_data(name: str, analysed) -> None:
    for data in (FRAMES_FILE, KEYPOINTS_FILE):
        assert (analysed(name, "cli") / data).read_bytes() == (analysed(name, "api") / data).read_bytes()


@pytest.mark.parametrize("via", VIA)
def test_cut_upload_is_analysed_up_to_the_cut(via: str, corpus: dict[str, Path], analysed) -> None:
    """An upload cut off mid-way (index first, as browser-ready MP4s are) gives the frames before the cut."""
    # Both cases cut one file: the shorter cut is a prefix of the longer (the writer's bytes are repeatable).
    shorter, longer = corpus["upload-cut-60"].read_bytes(), corpus["upload-cut-90"].read_bytes()
    assert longer.startswith(shorter)
    half, most = (load_results(analysed(name, via)) for name in ("upload-cut-60", "upload-cut-90"))
    for run, name in ((half, "upload-cut-60"), (most, "upload-cut-90")):
        n_frames = run.summary["video"]["frames_decoded"]
        # B-frames that point past the cut may be left out.
        assert decoded_frame_count(corpus[name]) - B_FRAMES <= n_frames <= decoded_frame_count(corpus[name])
        times = run.frames["time_s"].unique()
        assert len(times) == n_frames and np.all(np.diff(times) > 0)  # in order, each frame at its own time
        np.testing.assert_allclose(times * 30, np.round(times * 30), atol=0.03)  # the source's frames, none made up
        assert round(times[-1] * 30) - (n_frames - 1) <= B_FRAMES
    n_half, n_most = (run.summary["video"]["frames_decoded"] for run in (half, most))
    assert 32 <= n_half < n_most < 80
    assert half.summary["video"]["frame_count"] == most.summary["video"]["frame_count"] == 80  # the header's count
    # The same frames give the same poses and tracks whether or not more of the file arrived, up to the last
    # frame on the pose stride before the shorter file's first missing frame (its cut, or a B-frame left out
    # just before it): after that one, the shorter file interpolates towards other frames than the longer one
    # (docs/reliability.md, "Repeatable results").
    every = half.summary["pose"]["every"]
    assert every == most.summary["pose"]["every"]
    on_time = np.abs(half.frames["time_s"].unique() - np.arange(n_half) / 30) < 1e-3
    first_missing = n_half if on_time.all() else int(np.argmin(on_time))
    last_shared = (first_missing - 1) // every * every
    shared = [run.keypoints[run.keypoints["frame"] <= last_shared].reset_index(drop=True) for run in (half, most)]
    assert last_shared >= n_half - every - B_FRAMES and len(shared[0]) > 0
    pd.testing.assert_frame_equal(*shared)


@pytest.mark.parametrize("via", VIA)
def test_odd_size_gives_even_h264_and_unshifted_keypoints(via: str, corpus: dict[str, Path], analysed) -> None:
    run = load_results(analysed("odd-size", via))
    assert (run.summary["video"]["width"], run.summary["video"]["height"]) == (161, 121)
    assert decoded(run.video)[2] == (162, 122)  # padded by one pixel, never cropped
    assert run.keypoints["x"].between(0, 161).all() and run.keypoints["y"].between(0, 121).all()
    assert keypoint_error(run.keypoints, truth_of(corpus["odd-size"])) < 4.0


@pytest.mark.parametrize("via", VIA)
def test_variable_frame_rate_keeps_real_timestamps(via: str, analysed) -> None:
    run = load_results(analysed("vfr", via))
    expected = [float(t) for t in frame_times(36, 30, vfr=True)]
    assert run.summary["video"]["is_vfr"]
    np.testing.assert_allclose(run.frames["time_s"], expected, atol=1e-3)
    np.testing.assert_allclose(run.keypoints.groupby("frame")["time_s"].first(),
                               [expected[i] for i in sorted(set(run.keypoints["frame"]))], atol=1e-3)
    np.testing.assert_allclose(decoded(run.video)[3], expected, atol=1e-3)  # the annotated video keeps them too


@pytest.mark.parametrize("via", VIA)
def test_rotated_video_gives_upright_keypoints(via: str, corpus: dict[str, Path], analysed) -> None:
    run = load_results(analysed("rotated", via))
    video = run.summary["video"]
    assert (video["rotation"], video["width"], video["height"]) == (90, 120, 160)
    assert decoded(run.video)[2] == (120, 160)
    assert keypoint_error(run.keypoints, truth_of(corpus["rotated"])) < 4.0


@pytest.mark.parametrize("via", VIA)
def test_crowd_beyond_six_is_a_degraded_result(via: str, analysed) -> None:
    """Eight people: MoveNet reports at most six per frame, so the result is about some of them, not all."""
    run = load_results(analysed("crowd", via))
    per_frame = run.keypoints.groupby("frame")["person_id"].nunique()
    assert per_frame.max() <= MOVENET_MAX_PEOPLE
    assert len(run.summary["people"]) >= 4
    assert run.frames["label"].ne(ABSENT).any()


@pytest.mark.parametrize("via", VIA)
def test_person_leaving_and_coming_back_keeps_one_id(via: str, corpus: dict[str, Path], analysed) -> None:
    run = load_results(analysed("reentry", via))
    truth = truth_of(corpus["reentry"])
    first, last = REENTRY_AWAY
    assert not truth.present[first : last + 1, 0].any()
    assert [p["person_id"] for p in run.summary["people"]] == [0]
    seen = set(run.keypoints["frame"])
    assert seen & set(range(first)) and seen & set(range(last + 1, len(truth.labels)))
    assert not seen & set(range(first, last + 1))
    labels = run.frames.set_index("frame")["label"]
    assert (labels.loc[first:last] == ABSENT).all()


# -- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "words"), [
    (["--max-seconds", "1"], "The video lasts 2 s; the limit is 1 s"),
    (["--max-frames", "30"], "The video has about 60 frames; the limit is 30"),
    (["--max-pixels", "10000"], "The video is 160x120; the limit is 10,000 pixels per frame"),
])
def test_limits_are_configurable_and_refuse_before_any_work(options: list[str], words: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    video = make_video(tmp_path / "two-seconds.mp4", frames=60)
    assert cli(video, tmp_path / "out", *options) == 2
    assert capsys.readouterr().err == f"error: {words}.\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("settings", "words"), [
    (AnalysisSettings(max_frames=30, input_size=FAST_INPUT_SIZE), "more than 30 frames"),
    (AnalysisSettings(max_seconds=1.0, input_size=FAST_INPUT_SIZE), "lasts more than 1 s"),
])
def test_limits_hold_for_a_stream_whose_header_states_no_length(settings: AnalysisSettings, words: str,
                                                                tmp_path: Path) -> None:
    """A live recording has no duration in its header; the limits must then be enforced while decoding."""
    video = write_without_duration(tmp_path / "live.mkv", frames=40)  # 1.33 s at 30 fps
    with pytest.raises(LimitError, match=words):
        analyze(video, tmp_path / "out", settings)
    assert list(tmp_path.iterdir()) == [video]


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_nonsense_limits_are_refused_by_the_parser(value: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(tmp_path / "x.mp4", tmp_path / "out", "--max-seconds", value)
    assert exit_info.value.code == 2 and "positive number of seconds" in capsys.readouterr().err


def test_dashboard_upload_size_is_limited() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"]
    assert isinstance(limit, int) and 0 < limit <= 2048  # MB; Streamlit's own default is 200


EIGHT_K_PEAK = """
import json, sys
from pathlib import Path
from har_core.video import iter_frames, probe

def peak_mb():  # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024

path, max_side = Path(sys.argv[1]), (int(sys.argv[2]) or None)
info = probe(path)
before = peak_mb()
shapes = [frame.image.shape for frame in iter_frames(path, max_side=max_side)]
print(json.dumps({"size": [info.width, info.height], "shapes": shapes, "grown_mb": peak_mb() - before}))
"""


def test_8k_frames_are_scaled_down_while_decoding(tmp_path: Path) -> None:
    """8K is decoded straight into the small picture: no full-size RGB frame (100 MB) ever exists."""
    video = write_8k(tmp_path / "huge.avi")

    def measure(max_side: int) -> dict:
        run = subprocess.run([sys.executable, "-c", EIGHT_K_PEAK, str(video), str(max_side)], capture_output=True,
                             text=True, cwd=REPO, timeout=120, check=True)
        return json.loads(run.stdout)

    scaled, full = measure(1920), measure(0)
    assert scaled["size"] == [7680, 4320]
    assert scaled["shapes"] == [[1080, 1920, 3]] * 3 and full["shapes"] == [[4320, 7680, 3]] * 3
    rgb_8k_mb = 7680 * 4320 * 3 / 2**20
    assert scaled["grown_mb"] < full["grown_mb"] - 0.9 * rgb_8k_mb, (scaled, full)
