"""Analyze: upload a clip (or take the bundled sample), choose options, run, follow it, see the results.

The run being shown is in the URL (`?run=<id>`), not in session state, so reloading the page or coming
back from another page shows the same run, finished or still going.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.components import services
from dashboard.components.options import BACKEND_NAMES, DEVICES, model_choice, runtime_choice
from dashboard.components.progress import follow
from dashboard.components.results import show_results
from har_core.errors import HarError
from har_core.pipeline import AnalysisSettings
from har_core.pose import BACKENDS
from har_core.pose_stride import MAX_POSE_EVERY
from har_core.store import VIDEO_SUFFIXES, RunStatus

SAMPLE = Path(__file__).resolve().parents[2] / "har_core" / "data" / "sample.mp4"
UPLOAD, SAMPLE_CHOICE = "Upload a video", "Bundled sample clip"
INPUT_SIZES = [None, 192, 256, 320, 384, 448, 512]  # None: automatic
POSE_STRIDES = [None, *range(1, MAX_POSE_EVERY + 1)]  # None: automatic
PEOPLE = {"all": "Everyone in the video", "primary": "Only the main person"}


def _options() -> AnalysisSettings:
    """The analysis options, defaults first, tucked away for users who just want to press Run."""
    defaults = AnalysisSettings()
    with st.expander("Options", icon=":material/tune:"):
        left, right = st.columns(2)
        backend = left.selectbox("Pose model", BACKENDS, format_func=lambda b: BACKEND_NAMES.get(b, b),
                                 key="opt_backend")
        size = left.select_slider("Pose model input size (px)", INPUT_SIZES, value=defaults.input_size,
                                  format_func=lambda size: "auto" if size is None else str(size), key="opt_size",
                                  help="Larger finds smaller people but is slower. Auto uses 256 and looks again "
                                  "at 512 when the main person is small in the picture.")
        runtime = runtime_choice(left, "opt_runtime")
        pose_every = left.select_slider("Estimate poses on every Nth frame", POSE_STRIDES, value=defaults.pose_every,
                                        format_func=lambda every: "auto" if every is None else str(every),
                                        key="opt_pose_every",
                                        help="Auto estimates poses about 15 times a second (every 2nd frame at 30 "
                                        "fps) and interpolates the frames between; 1 estimates every frame, "
                                        "about 1.7x slower.")
        device = left.selectbox("Device", list(DEVICES), format_func=DEVICES.get, key="opt_device")
        people = right.radio("People", list(PEOPLE), format_func=PEOPLE.get, key="opt_people", horizontal=True)
        threshold = right.slider("Uncertainty threshold", 0.0, 1.0, defaults.threshold, 0.05, key="opt_threshold",
                                 help="Frames whose most likely action is below this probability are UNCERTAIN.")
        smoothing = right.slider("Smoothing (frames)", 0, 15, defaults.smoothing, key="opt_smoothing",
                                 help="Centred moving average of the probabilities; 0 or 1 turns it off.")
        model = model_choice(right, "opt_model")
    return AnalysisSettings(backend=backend, input_size=size, pose_runtime=runtime, pose_every=pose_every,
                            device=device, people=people, threshold=threshold, smoothing=smoothing, model=model)


def _start(source: bytes | Path, name: str, settings: AnalysisSettings) -> None:
    """Submit (or reuse) the analysis and put its run id in the URL."""
    try:
        record = services.jobs().submit(source, name, settings)
    except HarError as exc:
        st.error(str(exc))
        return
    if record.status == RunStatus.DONE:
        st.toast("Same clip and settings as an earlier run: showing the stored result.", icon=":material/bolt:")
    st.query_params["run"] = record.id
    st.rerun()


def _new_analysis() -> None:
    st.title("Analyze a video", anchor=False)
    st.caption("Pose estimation → tracking → an LSTM over 1-second windows (32 frames at 30 fps) of COCO-17 keypoints → "
               "per-frame action probabilities and an annotated video.")
    choice = st.segmented_control("Source", [UPLOAD, SAMPLE_CHOICE], default=UPLOAD, required=True, key="source",
                                  label_visibility="collapsed")
    upload = None
    if choice == UPLOAD:
        upload = st.file_uploader("Video file", type=[s.lstrip(".") for s in VIDEO_SUFFIXES], key="upload",
                                  help="mp4, mov, avi, mkv or webm. Processed on this server; nothing leaves it.")
    elif SAMPLE.is_file():
        st.video(str(SAMPLE))
    else:
        st.warning("The bundled sample clip is missing from this installation (har_core/data/sample.mp4).")
    settings = _options()
    ready = upload is not None or (choice == SAMPLE_CHOICE and SAMPLE.is_file())
    if st.button("Run analysis", type="primary", icon=":material/play_arrow:", disabled=not ready, key="run"):
        if upload is not None:
            _start(upload.getvalue(), upload.name, settings)
        else:
            _start(SAMPLE, SAMPLE.name, settings)


def _show_run(run_id: str) -> None:
    record = services.store().get(run_id)
    if record is None:
        st.error("There is no run with this id (it may have been deleted).")
        st.button("New analysis", on_click=st.query_params.clear, icon=":material/add:")
        return
    top = st.columns([1, 0.25], vertical_alignment="center")
    top[0].title(record.name, anchor=False)
    top[1].button("New analysis", on_click=st.query_params.clear, icon=":material/add:", width="stretch",
                  key="new_analysis")
    if record.active:
        follow(run_id)
    elif record.status == RunStatus.FAILED:
        st.error(record.error, icon=":material/error:")
        st.caption("Check that the file is a video (mp4, mov, avi, mkv or webm) showing at least one whole person "
                   "for a second or more, then start a new analysis.")
    else:
        show_results(record)


run = st.query_params.get("run")
if run:
    _show_run(run)
else:
    _new_analysis()
