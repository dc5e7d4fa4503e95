"""Following a background analysis: a progress bar that polls the run store, independent of the session.

The fragment reruns every second and only reads the store, so a reload, a second tab or another page
and back all pick the run up where it is. When the run leaves the active states the whole page reruns
to show the results or the error.
"""

from __future__ import annotations

import streamlit as st

from dashboard.components import services
from har_core.pipeline import FRAME_STAGES, POSE_AGAIN_STAGE
from har_core.store import RunRecord, RunStatus

STAGE_NAMES = {
    "": "Starting the analysis",
    "pose": "Finding people and their poses",
    POSE_AGAIN_STAGE: "The people are small: looking again at a larger size",
    "actions": "Recognising actions",
    "render": "Drawing the annotated video",
    "done": "Saving the results",
}
POLL_SECONDS = 1.0


def describe(record: RunRecord) -> str:
    """One line for the progress bar: stage, frames done of total, speed and time left."""
    if record.status == RunStatus.QUEUED:
        return "Waiting for a free worker (other analyses are running)…"
    parts = [STAGE_NAMES.get(record.stage, record.stage.capitalize())]
    if record.total:
        unit = "people" if record.stage == "actions" else "frames"
        parts.append(f"{record.done:,} / {record.total:,} {unit}")
    if record.fps > 0 and record.stage in FRAME_STAGES:
        parts.append(f"{record.fps:.1f} fps")
    if record.eta_s is not None and record.eta_s > 0:
        parts.append(f"about {format_seconds(record.eta_s)} left")
    return " · ".join(parts)


def format_seconds(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _cancel(run_id: str) -> None:
    if not services.jobs().cancel(run_id):
        st.toast("This analysis is run by another server process and cannot be cancelled from here.")


@st.fragment(run_every=POLL_SECONDS)
def follow(run_id: str) -> None:
    """Show the live progress of an active run; rerun the page once it has finished."""
    record = services.store().get(run_id)
    if record is None or not record.active:
        st.rerun()
    with st.container(border=True):
        st.markdown(f"**Analysing {record.name}**")
        st.progress(record.fraction or 0.0, text=describe(record))
        st.caption("You can leave this page or reload it: the analysis keeps running and this view finds it again.")
        st.button("Cancel analysis", icon=":material/cancel:", on_click=_cancel, args=(run_id,), key=f"cancel:{run_id}")
