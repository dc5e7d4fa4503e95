"""Live: the browser's camera through the live step (`har_core.live`), annotated frames back, the action beside.

The camera's frames reach this server over WebRTC (streamlit-webrtc); `LiveStream` processes the newest
of them and drops the rest, and this page only draws its snapshots a few times a second. With Record on,
the received video is kept and, when the camera stops, submitted to the run store like an upload, so it is
analysed into the usual four files and opens in the results view and in Compare.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from dashboard.charts import label_color, rolling_probabilities
from dashboard.components import services
from dashboard.components.live import frame_callback, ice_servers
from dashboard.components.options import BACKEND_NAMES, DEVICES, model_choice, runtime_choice
from har_core.errors import HarError
from har_core.live import LiveSettings
from har_core.live_stream import HISTORY_S, LiveSnapshot, LiveStream
from har_core.pipeline import AnalysisSettings
from har_core.pose import BACKENDS

RESOLUTIONS = {"640 × 480": (640, 480), "320 × 240": (320, 240), "1280 × 720": (1280, 720)}
INPUT_SIZES = [192, 256, 320]
REFRESH_S = 0.33  # the chart and the big label follow the stream about three times a second


def _options(playing: bool) -> tuple[LiveSettings, tuple[int, int]]:
    """Camera resolution and the pose options that make sense live (frozen while the camera runs)."""
    defaults = LiveSettings()
    with st.expander("Options", icon=":material/tune:"):
        left, right = st.columns(2)
        resolution = left.selectbox("Camera resolution", list(RESOLUTIONS), key="live_resolution", disabled=playing,
                                    help="What is asked of the camera; it may offer the nearest it has.")
        backend = left.selectbox("Pose model", BACKENDS, format_func=lambda b: BACKEND_NAMES.get(b, b),
                                 key="live_backend", disabled=playing)
        runtime = runtime_choice(left, "live_runtime", disabled=playing)
        model = model_choice(left, "live_model", disabled=playing)
        size = right.select_slider("Pose model input size (px)", INPUT_SIZES, value=defaults.input_size,
                                   key="live_size", disabled=playing,
                                   help="Larger finds smaller people but is slower; frames are dropped when the "
                                   "CPU cannot keep up.")
        device = right.selectbox("Device", list(DEVICES), format_func=DEVICES.get, key="live_device",
                                 disabled=playing)
        threshold = right.slider("Uncertainty threshold", 0.0, 1.0, defaults.threshold, 0.05, key="live_threshold",
                                 disabled=playing,
                                 help="An action whose probability is below this is shown as UNCERTAIN.")
    settings = LiveSettings(backend=backend, input_size=size, device=device, threshold=threshold,
                            pose_runtime=runtime, model=model)
    return settings, RESOLUTIONS[resolution]


def _stream(settings: LiveSettings, playing: bool) -> LiveStream:
    """This browser session's stream, replaced when the options change while the camera is off."""
    stream = st.session_state.get("live_stream")
    if stream is None or (stream.settings != settings and not playing):
        stream = LiveStream(settings)
        st.session_state["live_stream"] = stream
    return stream


@st.cache_resource(show_spinner=False)
def _record_dir() -> Path:
    """Where recordings wait until they are handed to the run store: one folder per server (names are unique)."""
    return Path(tempfile.mkdtemp(prefix="har-live-"))


def _save_recordings(stream: LiveStream, settings: LiveSettings) -> None:
    """The camera has stopped: submit each finished recording for analysis and remember the run ids."""
    analysis = AnalysisSettings(backend=settings.backend, input_size=settings.input_size, device=settings.device,
                                threshold=settings.threshold, pose_runtime=settings.pose_runtime, model=settings.model)
    saved = st.session_state.setdefault("live_saved", [])
    for path in stream.stop():
        try:
            record = services.jobs().submit(path, f"Live {path.stem.removeprefix('live-')}.mp4", analysis)
            saved.append((record.id, record.name))
        except HarError as exc:
            st.error(f"The recording could not be saved: {exc}")
        finally:
            path.unlink(missing_ok=True)


def _big_label(snapshot: LiveSnapshot, person_id: int | None) -> None:
    person = next((p for p in snapshot.people if p.person_id == person_id), None)
    if person is None:
        text, colour, detail = "nobody in view", "#9AA0B4", ""
    else:
        text = person.label.replace("_", " ").lower()
        colour = label_color(person.label)
        detail = "" if person.warming_up else f"{person.confidence:.0%}"
    st.markdown(f"<div style='font-size:3rem;font-weight:700;line-height:1.1;color:{colour}' data-testid='live-action'>"
                f"{text}</div><div style='color:#6B7280'>#{person_id if person else '–'} {detail}</div>",
                unsafe_allow_html=True)


def _person_choice(stream: LiveStream) -> int | None:
    """Whose chart to show: a chosen id, or None to follow the first person in view."""
    ids = sorted(stream.snapshot().histories)
    return st.selectbox("Person", [None, *ids], format_func=lambda i: "First in view" if i is None else f"#{i}",
                        key="live_person", help="People seen in the last 10 s when the page was last drawn.")


def _panel(stream: LiveStream, choice: int | None, threshold: float, playing: bool) -> None:
    """The current action in large type, the rates, and the rolling chart for the chosen person."""
    snapshot = stream.snapshot()
    in_view = [p.person_id for p in snapshot.people]
    chosen = choice if choice in snapshot.histories else (in_view[0] if in_view else None)
    _big_label(snapshot, chosen)
    stats = snapshot.stats
    rate, dropped, step = st.columns(3)
    rate.metric("Processed", f"{stats.processed_fps:.0f} fps")
    dropped.metric("Dropped", f"{stats.dropped_share:.0%}", help="Frames skipped to keep the picture current.")
    step.metric("Step", f"{stats.median_step_ms:.0f} ms", help="Median time to process one frame.")
    if chosen is not None and snapshot.time_s is not None:
        history = snapshot.histories[chosen]
        figure = rolling_probabilities(history.times, history.probs, snapshot.time_s, HISTORY_S, threshold)
        st.plotly_chart(figure, config={"displayModeBar": False})
    if snapshot.recording:
        st.caption(":red[●] Recording")
    if snapshot.record_error:
        st.error(snapshot.record_error, icon=":material/error:")
    if not playing:
        st.info("Press **START** under the video area and allow the camera. **SELECT DEVICE** picks another camera.",
                icon=":material/videocam:")


st.title("Live", anchor=False)
st.caption("Your camera, frame by frame: pose → tracking → the same LSTM as Analyze, on the last second of "
           "each person. Everything runs on this server; nothing is stored unless Record is on.")
ctx_key = "live_camera"
playing = bool(st.session_state.get(f"{ctx_key}_playing", False))
settings, (width, height) = _options(playing)
stream = _stream(settings, playing)
record = st.toggle("Record", key="live_record",
                   help="Keep what the camera sends; when it stops, the clip is saved as a run (analysed like an "
                   "upload) that opens in Runs and Compare.")
stream.record_into(_record_dir() if record else None)
try:
    servers = ice_servers()
except HarError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

video, panel = st.columns([1.3, 1])
with video:
    ctx = webrtc_streamer(
        key=ctx_key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": servers},
        media_stream_constraints={"video": {"width": {"ideal": width}, "height": {"ideal": height}}, "audio": False},
        queued_video_frames_callback=frame_callback(stream),
        on_video_ended=stream.finish_recording,
        async_processing=True,
        video_html_attrs={"autoPlay": True, "playsInline": True, "muted": True, "style": {"width": "100%"}},
    )
st.session_state[f"{ctx_key}_playing"] = ctx.state.playing
if not ctx.state.playing:
    _save_recordings(stream, settings)
for run_id, name in st.session_state.get("live_saved", []):
    st.success(f"Saved **{name}**: it is being analysed; [open it](./?run={run_id}) or find it under Runs.",
               icon=":material/save:")
with panel:
    choice = _person_choice(stream)
    shown = st.empty()
    with shown.container():
        _panel(stream, choice, settings.threshold, ctx.state.playing)
    # streamlit-webrtc's pattern: follow the stream until the next rerun (any widget, or the camera stopping)
    # interrupts this loop. (A fragment with run_every broke the page navigation while the camera ran.)
    while ctx.state.playing:
        time.sleep(REFRESH_S)
        with shown.container():
            _panel(stream, choice, settings.threshold, ctx.state.playing)
