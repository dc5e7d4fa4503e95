"""Runs: the history of analysed clips in the run store; open one, delete one."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.components import services
from dashboard.components.batch_summary import show_batch_summary
from dashboard.components.chips import chips_html
from dashboard.components.progress import describe
from har_core.store import THUMBNAIL_FILE, RunRecord, RunStatus

PAGE_SIZE = 25
STATUS_BADGE = {RunStatus.DONE: ("Done", "green"), RunStatus.FAILED: ("Failed", "red"),
                RunStatus.RUNNING: ("Running", "blue"), RunStatus.QUEUED: ("Queued", "gray")}


def settings_line(settings: dict) -> str:
    """The settings that change results, in a few words."""
    every = settings.get("pose_every")
    stride = {None: "", 1: " · poses on every frame"}.get(every, f" · poses every {every} frames")
    backend = settings.get("backend", "?")
    # Runs stored before the runtime was a setting ran MoveNet on LiteRT.
    runtime = f" on {settings.get('pose_runtime', 'litert')}" if backend == "movenet" else ""
    size = settings.get("input_size", "?")
    return (f"{backend}{runtime} @ {'auto size' if size is None else f'{size} px'}{stride} · people: "
            f"{settings.get('people', '?')} · threshold {settings.get('threshold', '?')} · "
            f"smoothing {settings.get('smoothing', '?')}")


def _delete(run_id: str) -> None:
    if services.jobs().delete(run_id):
        st.toast("Run deleted.", icon=":material/delete:")
    else:
        st.toast("The run could not be deleted (it is still being analysed elsewhere).", icon=":material/warning:")


def _run_card(record: RunRecord) -> None:
    with st.container(border=True):
        thumb, info, actions = st.columns([0.9, 2.6, 0.9], vertical_alignment="center")
        image = services.store().result_file(record.id, THUMBNAIL_FILE)
        if image is not None:
            thumb.image(str(image), width="stretch")
        else:
            thumb.markdown(":material/movie:")
        label, colour = STATUS_BADGE[record.status]
        when = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
        info.markdown(f"**{record.name}** &nbsp; :{colour}-badge[{label}]")
        if record.status == RunStatus.DONE:
            duration = f"{record.duration_s:.1f} s" if record.duration_s is not None else "–"
            people = f"{record.people} {'person' if record.people == 1 else 'people'}"
            info.markdown(f"{duration} · {people} · {when}")
            if record.dominant:
                info.markdown(chips_html(record.dominant), unsafe_allow_html=True)
        elif record.status == RunStatus.FAILED:
            info.markdown(f"{when} · {record.error}")
        else:
            info.markdown(f"{when} · {describe(record)}")
        info.caption(settings_line(record.settings) + (f" · batch {record.batch}" if record.batch else ""))
        actions.page_link("pages/analyze.py", label="Open", icon=":material/open_in_new:",
                          query_params={"run": record.id}, width="stretch")
        with actions.popover("Delete", icon=":material/delete:", width="stretch"):
            st.markdown(f"Delete **{record.name}** and all its files?")
            st.button("Delete for good", type="primary", on_click=_delete, args=(record.id,),
                      key=f"delete:{record.id}")


st.title("Runs", anchor=False)
runs = services.store().list_runs()
batches = services.store().list_batches()
if not runs and not batches:
    st.info("No analyses yet. Start one on the Analyze page.")
    st.page_link("pages/analyze.py", label="Analyze a video", icon=":material/play_arrow:")
    st.stop()

columns = st.columns([2, 1.2, 1.2] if batches else [2, 1.2], vertical_alignment="bottom")
query = columns[0].text_input("Filter by name", placeholder="clip name…", key="runs_filter")
shown = columns[1].pills("Status", ["done", "running", "failed"], selection_mode="multi", key="runs_status")
batch = columns[2].selectbox("Batch", batches, index=None, placeholder="all runs", key="runs_batch") if batches else None
if batch is not None:
    show_batch_summary(batch)
selected = [r for r in runs if query.lower() in r.name.lower() and (batch is None or r.batch == batch)]
if shown:
    wanted = {RunStatus(s) for s in shown} | ({RunStatus.QUEUED} if "running" in shown else set())
    selected = [r for r in selected if r.status in wanted]
st.caption(f"{len(selected)} of {len(runs)} runs · newest first")
pages = max(1, -(-len(selected) // PAGE_SIZE))
page = st.number_input("Page", 1, pages, 1, key="runs_page") if pages > 1 else 1
for record in selected[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
    _run_card(record)
