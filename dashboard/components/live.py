"""What the Live page needs around `har_core.live_stream`: WebRTC frames in and out, and the ICE servers.

A connection on localhost or a LAN needs no outside server: the browser and this server reach each other
by their own addresses. Only for remote use (across NATs) are STUN/TURN servers needed; they are read
from `$HAR_ICE_SERVERS`, a JSON list in the browser's RTCIceServer form, e.g.
`[{"urls": ["stun:stun.example.org:3478"]}, {"urls": "turn:turn.example.org:3478", "username": "u",
"credential": "p"}]`. Empty or unset means none: streamlit-webrtc's own default (Google's public STUN
server, or paid TURN services when their credentials are in the environment) is never used.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable

import av

from har_core.errors import HarError
from har_core.live_stream import LiveStream

ICE_SERVERS_ENV = "HAR_ICE_SERVERS"

QueuedCallback = Callable[[list[av.VideoFrame]], Awaitable[list[av.VideoFrame]]]


def ice_servers() -> list[dict]:
    """The STUN/TURN servers from $HAR_ICE_SERVERS (JSON), or none.

    Raises:
        HarError: the variable is not a JSON list of objects with `urls`.
    """
    text = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if not text:
        return []
    try:
        servers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarError(f"{ICE_SERVERS_ENV} is not valid JSON ({exc.msg} at character {exc.pos}).") from exc
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        raise HarError(f'{ICE_SERVERS_ENV} must be a JSON list of servers like [{{"urls": ["stun:host:3478"]}}].')
    return servers


def frame_callback(stream: LiveStream) -> QueuedCallback:
    """streamlit-webrtc's queued-frames callback: every frame since the last call to `stream`, one annotated back.

    Frames are timed by their RTP timestamps (the camera's clock), falling back to arrival time. Frames
    that will be dropped are converted to pixels only while recording.
    """

    async def process(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        keep = frames if stream.recording else frames[-1:]  # only a recording needs the dropped frames' pixels
        received = [(frame.to_ndarray(format="rgb24"), _seconds(frame)) for frame in keep]
        annotated = stream.process(received, skipped=len(frames) - len(keep))
        return [av.VideoFrame.from_ndarray(annotated, format="rgb24")]

    return process


def _seconds(frame: av.VideoFrame) -> float:
    return float(frame.time) if frame.time is not None else time.monotonic()
