"""The results view of one finished run: video beside the timeline, frame inspector, plots, downloads.

It is a fragment, so moving the frame slider or clicking the chart reruns only this view. The frame
the inspector shows lives in session state under one key; the slider owns it and a chart click writes
it (through the chart's `on_select` callback, which runs before the slider is drawn).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from dashboard import charts
from dashboard.components import services
from dashboard.components.chips import chips_html
from dashboard.data import (
    PersonSeries,
    action_summary,
    keypoints_at,
    person_ids,
    person_segments,
    person_series,
    segments_table,
    selected_range,
    zip_files,
)
from har_core.errors import HarError
from har_core.jobs import default_model_id
from har_core.outputs import FRAMES_FILE, KEYPOINTS_FILE, SUMMARY_FILE, VIDEO_FILE, RunResults
from har_core.skeleton import CLASSES, JOINT_NAMES
from har_core.store import RunRecord

DEFAULT_JOINTS = ["left_wrist", "right_wrist", "left_ankle"]
MIME = {VIDEO_FILE: "video/mp4", FRAMES_FILE: "text/csv", KEYPOINTS_FILE: "text/csv",
        SUMMARY_FILE: "application/json"}


def frame_key(run_id: str) -> str:
    """Session-state key of the inspected frame of a run (shared by slider and chart)."""
    return f"frame:{run_id}"


def range_keys(run_id: str, person: int) -> tuple[str, str]:
    """Session-state keys of the start and end inputs of the labelling form (a selection fills them)."""
    return f"label_start:{run_id}:{person}", f"label_end:{run_id}:{person}"


def _pick_frame(chart_key: str, run_id: str, person: int) -> None:
    """Chart `on_select` callback: a click moves the inspector to the point's frame; a box or lasso selection
    becomes the range of the labelling form (and the inspector moves to its start).

    Every clickable trace carries its frame in customdata: a line point holds the frame itself, a
    segment bar a list starting with the segment's first frame.
    """
    selection = st.session_state[chart_key].selection
    span = selected_range(selection)
    if span is not None:
        start_key, end_key = range_keys(run_id, person)
        st.session_state[start_key], st.session_state[end_key] = span
        st.session_state[f"labelling:{run_id}"] = True
        return
    points = selection.get("points") or []
    frame = points[0].get("customdata") if points else None
    if isinstance(frame, list):
        frame = frame[0] if frame else None
    if frame is not None:
        st.session_state[frame_key(run_id)] = int(frame)


def _person_label(person_id: int, summary: dict) -> str:
    primary = summary.get("primary_person_id")
    return f"Person {person_id}" + (" · primary" if person_id == primary else "")


def _header(record: RunRecord, results: RunResults) -> None:
    video = results.summary.get("video", {})
    when = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
    st.caption(f"Analysed {when} · model {record.model_id} · {video.get('width')}×{video.get('height')} px · "
               f"{video.get('fps', 0):.2f} fps")
    cols = st.columns(4)
    cols[0].metric("Duration", f"{video.get('duration_s', 0):.1f} s", border=True)
    cols[1].metric("Frames", f"{video.get('frames_decoded', 0):,}", border=True)
    cols[2].metric("People tracked", len(results.summary.get("people") or []), border=True)
    total = (results.summary.get("timings_s") or {}).get("total")
    cols[3].metric("Analysis time", f"{total:.1f} s" if total else "–", border=True)


def _inspector(run_id: str, results: RunResults, series: PersonSeries, threshold: float) -> None:
    """Frame slider, the annotated frame, the skeletons and the probability bars at that frame."""
    frame = st.session_state[frame_key(run_id)]
    time_s = float(series.times[series.index_of(frame)]) if len(series.times) else 0.0
    with st.container(border=True):
        st.markdown(f"**Frame inspector** · frame {frame} at {time_s:.2f} s")
        st.slider("Frame", 0, max(int(series.frames.max()) if len(series.frames) else 0, 1),
                  key=frame_key(run_id), help="Or click a point on the timeline to jump to its frame.")
        left, middle, right = st.columns([1.2, 1, 1])
        left.image(services.frame_image(str(results.video), frame), caption="Annotated frame",
                   width="stretch")
        video = results.summary.get("video", {})
        people = keypoints_at(results.keypoints, frame)
        colours = {}
        for person_id, _ in people:
            person = person_series(results.frames, person_id)
            label = person.labels[person.index_of(frame)] if len(person.labels) else ""
            colours[person_id] = charts.label_color(label) if label in CLASSES else charts.PERSON_COLORS[0]
        middle.plotly_chart(charts.skeleton_figure(people, int(video.get("analysed_width") or video.get("width", 1)),
                                                   int(video.get("analysed_height") or video.get("height", 1)),
                                                   colours), key=f"skeleton:{run_id}", config={"displayModeBar": False})
        row = series.index_of(frame)
        label = series.labels[row] if len(series.labels) else "ABSENT"
        with right:
            if np.isnan(series.probs[row]).all():
                reason = label.replace("_", " ").lower()
                st.info(f"No prediction for person {series.person_id} at this frame ({reason}).")
            else:
                st.markdown(f"Person {series.person_id} {chips_html([label])}", unsafe_allow_html=True)
            st.plotly_chart(charts.probability_bars(series.probs[row], threshold), key=f"bars:{run_id}",
                            config={"displayModeBar": False})


def _add_label(run_id: str, person: int) -> None:
    start_key, end_key = range_keys(run_id, person)
    try:
        services.store().add_label(run_id, person, float(st.session_state[start_key]),
                                   float(st.session_state[end_key]), st.session_state[f"label_class:{run_id}"])
    except HarError as exc:
        st.session_state[f"label_error:{run_id}"] = str(exc)
    else:
        st.toast("Range labelled. Fine-tune the model with your labels on the Teach page.", icon=":material/label:")


def _relabel(label_id: int, key: str) -> None:
    services.store().relabel(label_id, st.session_state[key])


def _labelling(record: RunRecord, person: int, duration_s: float) -> None:
    """Label what the person really did in a stretch of time, and change or delete earlier labels."""
    labels = [label for label in services.store().labels(record.id) if label.person_id == person]
    start_key, end_key = range_keys(record.id, person)
    title = f"Correct the labels of person {person}" + (f" · {len(labels)} labelled" if labels else "")
    with st.expander(title, icon=":material/label:", expanded=bool(st.session_state.get(f"labelling:{record.id}"))):
        st.caption("Choose **Box select** or **Lasso select** in the chart's toolbar and drag across a stretch, or "
                   "type its start and end; then say what the person was really doing. Your labels are kept with "
                   "the run and fine-tune the model on the Teach page.")
        error = st.session_state.pop(f"label_error:{record.id}", None)
        if error:
            st.error(error)
        st.session_state.setdefault(start_key, 0.0)
        st.session_state.setdefault(end_key, round(min(duration_s, 1.0), 2))
        cols = st.columns([1, 1, 1.6, 1], vertical_alignment="bottom")
        cols[0].number_input("From (s)", min_value=0.0, key=start_key, step=0.1, format="%.2f")
        cols[1].number_input("To (s)", min_value=0.0, key=end_key, step=0.1, format="%.2f")
        cols[2].selectbox("Really doing", CLASSES, key=f"label_class:{record.id}",
                          format_func=lambda c: c.replace("_", " ").lower())
        cols[3].button("Label range", type="primary", icon=":material/add:", key=f"label_add:{record.id}:{person}",
                       on_click=_add_label, args=(record.id, person), width="stretch")
        for label in labels:
            row = st.columns([2, 1.6, 1], vertical_alignment="center")
            row[0].markdown(f"{label.start_s:.2f}–{label.end_s:.2f} s")
            key = f"relabel:{label.id}"
            row[1].selectbox("Class", CLASSES, index=CLASSES.index(label.label), key=key, label_visibility="collapsed",
                             format_func=lambda c: c.replace("_", " ").lower(), on_change=_relabel, args=(label.id, key))
            row[2].button("Delete", icon=":material/delete:", key=f"unlabel:{label.id}",
                          on_click=services.store().delete_label, args=(label.id,), width="stretch")


def _reanalyse(record: RunRecord, model_dir: str | None) -> None:
    try:
        new = services.jobs().reanalyse(record, None if model_dir is None else Path(model_dir))
    except HarError as exc:
        st.error(str(exc))
        return
    st.query_params.from_dict({"run": new.id, "vs": record.id})
    st.rerun(scope="app")


def _model_actions(record: RunRecord) -> None:
    """Re-analyse with the active model when the run used another one, and compare with the run re-analysed."""
    active = services.library().active()
    active_id = active.model_id if active is not None else default_model_id()
    cols = st.columns(2)
    if active_id != record.model_id:
        name = f"fine-tuned model {active_id}" if active is not None else f"shipped model {active_id}"
        if cols[0].button(f"Re-analyse with the {name}", icon=":material/replay:", key=f"reanalyse:{record.id}"):
            _reanalyse(record, None if active is None else str(active.path))
    earlier = st.query_params.get("vs")
    comparable = bool(earlier) and earlier != record.id and services.store().get(earlier) is not None
    if comparable and cols[1].button("Compare with the run it re-analysed", icon=":material/compare_arrows:",
                                     type="primary", key=f"compare_with:{record.id}"):
        st.session_state["cmp_runs"] = [earlier, record.id]
        st.switch_page("pages/compare.py")


def _downloads(record: RunRecord) -> None:
    """One button per output file plus a zip of all; files are read only when a button is pressed."""
    stem = Path(record.name).stem or "video"
    files = {name: path for name in (VIDEO_FILE, FRAMES_FILE, KEYPOINTS_FILE, SUMMARY_FILE)
             if (path := services.store().result_file(record.id, name)) is not None}
    cols = st.columns(len(files) + 1)
    for col, (name, path) in zip(cols, files.items(), strict=False):
        col.download_button(name, data=partial(path.read_bytes), file_name=f"{stem}-{name}", mime=MIME[name],
                            on_click="ignore", icon=":material/download:", key=f"dl:{record.id}:{name}",
                            width="stretch")
    cols[-1].download_button("All as .zip", data=partial(zip_files, files), file_name=f"{stem}-results.zip",
                             mime="application/zip", on_click="ignore", type="primary",
                             icon=":material/folder_zip:", key=f"dl:{record.id}:zip", width="stretch")


@st.fragment
def show_results(record: RunRecord) -> None:
    """The whole results view of a finished run."""
    results = services.results(record.id)
    if results is None:
        st.error("The results of this run are not available (it was deleted or is incomplete).")
        return
    summary = results.summary
    threshold = float((summary.get("settings") or {}).get("threshold", 0.5))
    _header(record, results)
    people = person_ids(results.frames, summary)
    if not people:
        st.warning("Nobody was tracked in this video.")
        return
    person = people[0]
    if len(people) > 1:
        person = st.segmented_control("Person", people, default=people[0], required=True,
                                      format_func=lambda p: _person_label(p, summary), key=f"person:{record.id}")
    series = person_series(results.frames, person)
    segments = person_segments(summary, person)
    key = frame_key(record.id)
    if key not in st.session_state:
        first = next((s["start_frame"] for s in segments), int(series.frames[0]) if len(series.frames) else 0)
        st.session_state[key] = int(first)
    cursor = float(series.times[series.index_of(st.session_state[key])]) if len(series.times) else None

    video_col, chart_col = st.columns([1, 1.35], vertical_alignment="top")
    with video_col:
        st.video(str(results.video))
        st.caption("Annotated video: skeletons, person ids, current action and class bars drawn on every frame.")
    with chart_col:
        chart_key = f"timeline:{record.id}:{person}"
        labelled = [(label.start_s, label.end_s, label.label) for label in services.store().labels(record.id)
                    if label.person_id == person]
        st.plotly_chart(charts.timeline_figure(series, segments, threshold, cursor, revision=record.id,
                                               labelled=labelled),
                        key=chart_key, on_select=partial(_pick_frame, chart_key, record.id, person),
                        selection_mode=("points", "box", "lasso"),
                        config={"displayModeBar": True, "displaylogo": False,
                                "modeBarButtonsToRemove": ["toImage", "autoScale2d"]})
        st.caption("Click a point to inspect its frame · drag to zoom, double-click to zoom out · box or lasso "
                   "select (toolbar) a stretch to label it.")
    duration = float((summary.get("video") or {}).get("duration_s") or (series.times[-1] if len(series.times) else 0))
    _labelling(record, person, duration)
    _model_actions(record)
    _inspector(record.id, results, series, threshold)

    tabs = st.tabs(["Segments", "Keypoints", "Joint confidence", "Downloads", "Run details"])
    with tabs[0]:
        left, right = st.columns([1.4, 1])
        left.dataframe(segments_table(segments), hide_index=True, column_config={
            "mean confidence": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")})
        right.dataframe(action_summary(series), hide_index=True, column_config={
            "share": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
            "mean confidence": st.column_config.NumberColumn(format="%.2f")})
    person_keypoints = results.keypoints[results.keypoints["person_id"] == person]
    with tabs[1]:
        joints = st.multiselect("Joints", JOINT_NAMES, default=DEFAULT_JOINTS, key=f"joints:{record.id}",
                                format_func=lambda j: j.replace("_", " "))
        st.plotly_chart(charts.trajectory_figure(person_keypoints, joints, cursor_s=cursor), key=f"traj:{record.id}")
    with tabs[2]:
        st.plotly_chart(charts.confidence_heatmap(person_keypoints, cursor_s=cursor), key=f"heat:{record.id}")
    with tabs[3]:
        _downloads(record)
    with tabs[4]:
        st.json({k: summary.get(k) for k in ("video", "pose", "model", "settings", "people", "timings_s",
                                             "versions")}, expanded=1)
