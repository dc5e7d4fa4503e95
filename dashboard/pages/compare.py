"""Compare: class confidences over time of two or more runs, or of people within runs, aligned by time."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard import charts
from dashboard.components import services
from dashboard.data import PersonSeries, difference, difference_table, person_ids, person_series, summary_tables
from har_core.store import RunRecord, RunStatus


def _run_label(record: RunRecord) -> str:
    return f"{record.name} · {datetime.fromtimestamp(record.created).strftime('%Y-%m-%d %H:%M')}"


def _chosen_series(runs: list[RunRecord]) -> list[tuple[str, PersonSeries]]:
    """For each chosen run, the people to compare (the primary person unless the user picks others)."""
    chosen = []
    columns = st.columns(min(len(runs), 3))
    for index, record in enumerate(runs):
        results = services.results(record.id)
        if results is None:
            continue
        people = person_ids(results.frames, results.summary)
        with columns[index % len(columns)]:
            picked = st.multiselect(f"People in {record.name}", people, default=people[:1], key=f"cmp:{record.id}",
                                    format_func=lambda p: f"person {p}")
        for person in picked:
            name = record.name if len(picked) == 1 else f"{record.name} #{person}"
            if any(existing == name for existing, _ in chosen):
                name = f"{name} ({record.id[:4]})"
            chosen.append((name, person_series(results.frames, person)))
    return chosen


st.title("Compare", anchor=False)
st.caption("Overlay the class probabilities of several runs, or of several people in one run, on a common "
           "time axis.")
done = services.store().list_runs(status=RunStatus.DONE)
if not done:
    st.info("No finished runs yet. Analyse a clip or two first.")
    st.page_link("pages/analyze.py", label="Analyze a video", icon=":material/play_arrow:")
    st.stop()

by_id = {record.id: record for record in done}
if [i for i in st.session_state.get("cmp_runs", []) if i not in by_id]:  # a run chosen earlier was deleted
    del st.session_state["cmp_runs"]
# A run's "Compare" button (after re-analysing it with another model) puts its two runs in session state.
picked_ids = st.multiselect("Runs", list(by_id), default=None if "cmp_runs" in st.session_state else list(by_id)[:2],
                            format_func=lambda i: _run_label(by_id[i]), key="cmp_runs",
                            placeholder="Choose runs to compare")
series = _chosen_series([by_id[i] for i in picked_ids])
if len(series) < 2:
    st.info("Pick two or more runs, or two or more people within a run.")
    st.stop()

st.plotly_chart(charts.compare_figure(series), key="cmp_timelines")
long, wide = summary_tables(series)
st.subheader("Time per action", anchor=False)
left, right = st.columns([1, 1.2])
left.plotly_chart(charts.time_per_action_figure(long), key="cmp_time")
right.dataframe(wide, hide_index=True, column_config={
    c: st.column_config.NumberColumn(format="%.2f") for c in wide.columns if c != "series"})

if len(series) == 2:
    (name_a, first), (name_b, second) = series
    st.subheader(f"Difference: {name_a} − {name_b}", anchor=False)
    times, diff = difference(first, second)
    st.plotly_chart(charts.difference_figure(times, diff, (name_a, name_b)), key="cmp_diff")
    table = difference_table(long, name_a, name_b)
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%+.2f" if "difference" in c else "%.2f")
        for c in table.columns if c != "action"})
