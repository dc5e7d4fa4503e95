"""Teach: the ranges the user labelled across runs, fine-tuning the action model on them, and the models made.

Fine-tuning runs as a background job (`har_core.user_models.FinetuneJobs`), followed here like an analysis;
the models live in the user's data folder beside the run store. Everything here is also reachable from the
command line (`python -m models.finetune`, `python -m har_core analyze --model`).
"""

from __future__ import annotations

import streamlit as st

from dashboard.components import services
from dashboard.components.progress import POLL_SECONDS, format_seconds
from dashboard.data import evaluation_table, label_counts, labels_table
from har_core.errors import HarError
from har_core.jobs import default_model_id
from har_core.user_labels import store_ranges
from har_core.user_models import UserModel

PERCENT = st.column_config.NumberColumn(format="percent")


def _start(quick: bool) -> None:
    try:
        services.finetune_jobs().start(store_ranges(services.store()), options={"tiny": quick})
    except HarError as exc:
        st.session_state["finetune_error"] = str(exc)


@st.fragment(run_every=POLL_SECONDS)
def _follow() -> None:
    """Progress of the running job; reruns the page when it ends."""
    status = services.finetune_jobs().running()
    if status is None:
        st.rerun(scope="app")
    text = status.stage.capitalize() or "Starting"
    if status.total:
        text += f" · epoch {status.done} of {status.total}"
    if status.eta_s:
        text += f" · about {format_seconds(status.eta_s)} left"
    st.progress(status.fraction or 0.0, text=text)
    st.caption("You can leave this page: fine-tuning carries on in the background.")


def _activate(model_id: str | None) -> None:
    services.library().activate(model_id)
    st.toast("New analyses use the " + (f"fine-tuned model {model_id}." if model_id else "shipped model."),
             icon=":material/check_circle:")


def _delete(model_id: str) -> None:
    services.library().delete(model_id)
    st.toast(f"Model {model_id} deleted.", icon=":material/delete:")


def _model_card(model: UserModel, active: bool) -> None:
    with st.container(border=True):
        head, buttons = st.columns([3, 1.2], vertical_alignment="center")
        badge = " &nbsp; :green-badge[Active]" if active else ""
        head.markdown(f"**Fine-tuned model `{model.model_id}`**{badge}")
        counts = ", ".join(f"{name.replace('_', ' ').lower()} {n}" for name, n in model.per_class.items())
        head.caption(f"From the model {model.base_model_id} · learnt from {counts} labelled windows")
        if not active:
            buttons.button("Use this model", type="primary", icon=":material/check:", key=f"activate:{model.model_id}",
                           on_click=_activate, args=(model.model_id,), width="stretch")
        with buttons.popover("Delete", icon=":material/delete:", width="stretch"):
            st.markdown(f"Delete model **{model.model_id}**? Runs analysed with it stay.")
            st.button("Delete for good", type="primary", key=f"delete_model:{model.model_id}", on_click=_delete,
                      args=(model.model_id,))
        st.dataframe(evaluation_table(model.evaluation), hide_index=True,
                     column_config={"before": PERCENT, "after": PERCENT})


st.title("Teach the model", anchor=False)
st.caption("Where the model is wrong on your footage, open the run, select the stretch on its probability chart and "
           "say what it really is. Your labels fine-tune the model here, on this computer, in a few minutes; the new "
           "model is yours to compare, use or throw away.")

store = services.store()
labels = store.labels()
names = {record.id: record.name for record in store.list_runs()}
st.subheader("Your labels", anchor=False)
if not labels:
    st.info("No labelled ranges yet. Open a run on the Runs page, choose Box select in its chart's toolbar, drag "
            "across a stretch and say what the person was really doing.")
else:
    left, right = st.columns([1.6, 1])
    left.dataframe(labels_table(labels, names), hide_index=True)
    right.dataframe(label_counts(labels), hide_index=True)

st.subheader("Fine-tune", anchor=False)
jobs = services.finetune_jobs()
error = st.session_state.pop("finetune_error", None)
if error:
    st.error(error, icon=":material/error:")
if jobs.running() is not None:
    _follow()
else:
    latest = jobs.latest()
    if latest is not None and latest.state == "failed":
        st.error(latest.message, icon=":material/error:")
    elif latest is not None and latest.state == "done":
        st.success(f"Fine-tuned model {latest.model_id} is ready: compare its figures below, then use it or delete "
                   "it.", icon=":material/check_circle:")
    quick = st.toggle("Quick trial (toy-size data, a minute or less: to try the feature, not to use the model)",
                      key="finetune_quick")
    st.button("Fine-tune on my labels", type="primary", icon=":material/model_training:", disabled=not labels,
              key="finetune", on_click=_start, args=(quick,))

st.subheader("Models", anchor=False)
library = services.library()
active = library.active()
with st.container(border=True):
    head, buttons = st.columns([3, 1.2], vertical_alignment="center")
    head.markdown(f"**Shipped model `{default_model_id()}`**" + ("" if active else " &nbsp; :green-badge[Active]"))
    head.caption("Trained on simulated motion and motion capture (see the Model page).")
    if active is not None:
        buttons.button("Go back to the shipped model", icon=":material/undo:", key="activate_shipped",
                       on_click=_activate, args=(None,), width="stretch")
for model in library.models():
    _model_card(model, active is not None and model.model_id == active.model_id)
st.caption("New analyses use the active model. To see what a model changes, open a run and press **Re-analyse**, "
           "then **Compare**.")
