"""The Live page in a real browser whose camera is a rendered clip of a figure waving one hand.

Chromium's fake capture device plays a Y4M file made here, so the whole path runs for real: camera →
WebRTC → the live step on the server → annotated frames back into the page. The test checks that
annotated frames arrive (the class-bar panel darkens the top-left corner of the picture), that the page
names the known action soon after, and that Record saves a run which the Runs page lists and finishes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Frame, Page, sync_playwright

from models.synth.scenes import PersonSpec, group_camera, render_scene
from tests.reliability_corpus import waving
from tests.test_e2e_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server  # noqa: F401 - server is a fixture

SIZE = (320, 240)
FPS = 30
SECONDS = 3.0  # Chromium loops the file
START_TIMEOUT_MS = 90_000  # the first frames wait for the models to load on a loaded machine
ACTION_TIMEOUT_MS = 20_000  # a window is 1.07 s of stream time; the rest is slack for a loaded machine
SAVE_TIMEOUT_MS = 180_000
# Mean brightness of the top-left corner (where the class bars sit) in the video the page shows, 0-255.
CORNER_JS = """(video) => {
  if (!video || video.videoWidth === 0) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const w = Math.round(video.videoWidth * 0.1), h = Math.round(video.videoHeight * 0.2);
  const data = context.getImageData(2, 2, w, h).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
  return sum / (data.length / 4);
}"""


def write_y4m(path: Path) -> float:
    """The waving figure as raw 4:2:0 video, Chromium's fake-camera format; returns the corner's brightness."""
    scene = list(render_scene([PersonSpec(waving(round(SECONDS * FPS), FPS))], group_camera(SIZE, span=1.0), FPS,
                              SECONDS, background="plain", seed=0))
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for frame in scene:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame.image, format="rgb24").reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    w, h = round(SIZE[0] * 0.1), round(SIZE[1] * 0.2)
    return float(scene[0].image[2 : 2 + h, 2 : 2 + w].mean())


@pytest.fixture
def camera_page(tmp_path: Path) -> Iterator[tuple[Page, float]]:
    clip = tmp_path / "waving.y4m"
    corner = write_y4m(clip)
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(viewport={"width": 1440, "height": 1100})
        try:
            yield context.new_page(), corner
        finally:
            context.close()
            browser.close()


def webrtc_frame(page: Page) -> Frame:
    return next(frame for frame in page.frames if "streamlit_webrtc" in frame.url)


def test_live_page_recognises_a_waving_camera_and_records_a_run(server: str, camera_page: tuple[Page, float]) -> None:  # noqa: F811
    page, raw_corner = camera_page
    page.goto(server)
    page.get_by_role("link", name="Live").click()
    record = page.get_by_test_id("stCheckbox").get_by_text("Record")
    record.wait_for(timeout=START_TIMEOUT_MS)  # the first visit imports aiortc: slow on a cold, loaded machine
    record.click()
    component = page.frame_locator("iframe[title*='streamlit_webrtc']").first
    start = component.get_by_role("button", name="START")
    start.wait_for(timeout=START_TIMEOUT_MS)
    start.click()

    # Annotated frames: the picture that comes back has the dark class-bar panel where the camera has none.
    video = webrtc_frame(page).wait_for_selector("video", state="attached", timeout=START_TIMEOUT_MS)
    annotated = webrtc_frame(page).wait_for_function(
        f"([video, raw]) => {{ const v = ({CORNER_JS})(video); return v !== null && v < raw / 2 ? v : null; }}",
        arg=[video, raw_corner], timeout=START_TIMEOUT_MS, polling=250).json_value()
    assert annotated < raw_corner / 2
    started = time.monotonic()
    page.get_by_test_id("live-action").filter(has_text="waving 1hand").wait_for(timeout=ACTION_TIMEOUT_MS)
    print(f"action shown {time.monotonic() - started:.1f} s after the first annotated frame")
    assert page.get_by_text("Recording").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "live.png")

    component.get_by_role("button", name="STOP").click()
    saved = page.get_by_text("it is being analysed")
    saved.wait_for(timeout=SAVE_TIMEOUT_MS)
    name = saved.inner_text().split("Saved ", 1)[1].split(":", 1)[0].strip()
    assert name.startswith("Live ") and name.endswith(".mp4")

    page.get_by_role("link", name="Runs").click()
    page.get_by_text(name).wait_for(timeout=SAVE_TIMEOUT_MS)
    # The server's run store is this test's own, so its only run is the recording; the Runs page shows its
    # state when loaded, so reload until the analysis is done.
    deadline = time.monotonic() + SAVE_TIMEOUT_MS / 1000
    while page.get_by_text("Done", exact=True).count() == 0:
        assert time.monotonic() < deadline, page.locator("body").inner_text()
        page.wait_for_timeout(2_000)
        page.reload()
        page.get_by_text(name).wait_for(timeout=SAVE_TIMEOUT_MS)
    # The run's dominant action: its chip is drawn two elements after the Done badge, so wait for it to arrive.
    page.get_by_text("waving 1hand", exact=True).first.wait_for(timeout=SAVE_TIMEOUT_MS)
    assert page.get_by_text("waving 1hand", exact=True).count() == 1
