"""The dashboard in a real browser: `streamlit run` on a free port, driven by headless Chromium.

Uploads the bundled sample clip, waits for the results, and checks what only a browser can: the
H.264 video actually loads, the chart is drawn, clicking a chart point moves the frame inspector, the
download button delivers an MP4 that decodes, the history opens the run again, and a box selection on its
chart becomes a labelled range drawn as a band. A screenshot of the results view goes to
test-artifacts/e2e/results.png; `make screenshot` copies it to docs/screenshot.png (the README's picture), so
running the tests never changes a tracked file.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "har_core" / "data" / "sample.mp4"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 40
ANALYSIS_TIMEOUT_MS = 240_000  # generous for a loaded machine; ~20 s on an idle 2-core one
RENDER_TIMEOUT_MS = 60_000
FRAME_TEXT = re.compile(r"Frame inspector · frame (\d+) at")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `streamlit run` of the dashboard on localhost with its own empty run store."""
    port = free_port()
    log = tmp_path_factory.mktemp("e2e") / "streamlit.log"
    env = {**os.environ, "HAR_RUNS_DIR": str(log.parent / "runs")}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"streamlit did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1250}, accept_downloads=True)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def inspected_frame(page: Page) -> int:
    text = page.get_by_text(FRAME_TEXT).first.inner_text()
    return int(FRAME_TEXT.search(text).group(1))


def test_upload_analyse_inspect_and_download_in_a_real_browser(server: str, page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(server)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(SAMPLE)
    page.get_by_role("button", name="Run analysis").click()

    page.wait_for_selector("video", timeout=ANALYSIS_TIMEOUT_MS)
    page.get_by_text(FRAME_TEXT).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    state = page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v && v.readyState >= 2 && v.duration > 0 ? [v.readyState, v.duration] : null; }",
        timeout=RENDER_TIMEOUT_MS).json_value()
    assert state[0] >= 2 and state[1] > 0

    timeline = page.locator(".js-plotly-plot").first
    points = timeline.locator(".scatterlayer .trace").first.locator("path.point")
    points.first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert points.count() > 10
    assert timeline.locator(".barlayer path").count() >= 1  # the segments band
    before = inspected_frame(page)
    count = points.count()
    for target in (count * 3 // 4, count // 2, count - 1):
        box = points.nth(target).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            page.wait_for_function(
                "([pattern, before]) => { const m = document.body.innerText.match(new RegExp(pattern));"
                " return m && Number(m[1]) !== before; }", arg=[FRAME_TEXT.pattern, before], timeout=10_000)
            break
        except PlaywrightTimeout:  # a click that lands between markers selects nothing: try another point
            continue
    after = inspected_frame(page)
    assert after != before, "clicking the chart did not move the frame inspector"
    page.mouse.move(5, 5)
    page.wait_for_timeout(1_000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / "results.png")

    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download(timeout=30_000) as pending:
        page.get_by_role("button", name="annotated.mp4").click()
    target = ARTIFACTS / "annotated.mp4"
    pending.value.save_as(target)
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = sum(1 for _ in container.decode(stream))
    assert decoded > 32

    page.get_by_role("link", name="Runs").click()
    page.get_by_role("link", name="Open").first.click()
    page.wait_for_url(re.compile(r"run="), timeout=RENDER_TIMEOUT_MS)
    page.get_by_text(FRAME_TEXT).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.get_by_role("heading", name="sample.mp4").count() == 1

    # Selecting a stretch of the timeline with the box tool fills the labelling form; labelling it draws a band.
    timeline = page.locator(".js-plotly-plot").first
    timeline.locator(".scatterlayer .trace").first.locator("path.point").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    timeline.hover()
    timeline.locator(".modebar-btn[data-title='Box Select']").click()
    area = timeline.locator(".nsewdrag").last.bounding_box()
    y = area["y"] + area["height"] * 0.6
    page.mouse.move(area["x"] + area["width"] * 0.35, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.55, y + 20, steps=8)
    page.mouse.move(area["x"] + area["width"] * 0.7, y + 40, steps=8)
    page.mouse.up()
    start = page.get_by_label("From (s)")
    page.wait_for_function("(el) => Number(el.value) > 0", arg=start.element_handle(), timeout=RENDER_TIMEOUT_MS)
    begin, end = float(start.input_value()), float(page.get_by_label("To (s)").input_value())
    assert 0 < begin < end, (begin, end)
    page.get_by_role("button", name="Label range").click()
    page.locator(".js-plotly-plot").first.get_by_text("labelled jumping").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.get_by_text(f"{begin:.2f}–{end:.2f} s").count() == 1  # listed, to change or delete
