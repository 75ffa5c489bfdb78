"""The browser view in a real browser: ``alliance viz`` on a free local port, driven by Chromium.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``; .ci/run installs it),
never Playwright's own browser download. Any request that leaves the local server is refused and
fails the test: the page must work offline.

The test also writes the README's screenshot, docs/img/app.png: the page after nine steps of the
default scenario at seed 0 (so that rerunning the test rewrites the same picture).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from model import AllianceModel

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "app.png"
SCREENSHOT_STEPS = 9  # to October 2023: the Vostochny summit (2023-09) has fired
SERVER_START_S = 120  # a cold numba cache compiles the kernel first (about a minute)
PAGE_WAIT_MS = 60_000  # one step redraws every figure; slow on a busy two-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    """Poll the page until it answers, the server dies, or SERVER_START_S pass."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"alliance viz exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)  # poll interval, not synchronisation: the loop waits for an answer
    pytest.fail(f"alliance viz did not answer at {url} in {SERVER_START_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``alliance viz --port N`` in its own process group; yields (url, log path)."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    AllianceModel(rng=0).step()  # fill the numba cache here, so the server only loads it
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("viz") / "server.log"
    alliance = Path(sys.executable).with_name("alliance")
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(alliance), "viz", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_serving(process, url, log)
        yield url, log
    finally:
        stop(process)


@pytest.fixture
def page(server):
    """A Chromium page that records every failed, erroring or outside request."""
    from playwright.sync_api import sync_playwright

    url, _ = server
    problems: list[str] = []

    def local_only(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            problems.append(f"request outside the local server: {route.request.url}")
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            tab = browser.new_page(viewport={"width": 1500, "height": 1450})
            tab.route("**/*", local_only)
            tab.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
            tab.on(
                "response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}")
            )
            tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            tab.set_default_timeout(PAGE_WAIT_MS)
            tab.goto(url)
            yield tab, problems
        finally:
            browser.close()


def assert_no_error_text(page) -> None:
    text = page.locator("body").inner_text()
    for marker in ("Traceback", "Exception", "error in step", "Error:"):
        assert marker not in text, f"{marker!r} on the page:\n{text}"


def test_step_and_rejected_sliders_in_a_real_browser(page, server):
    tab, problems = page
    _, log = server
    try:
        drive(tab)
    except Exception as exc:  # a blank or stuck page: the server's output says why
        raise AssertionError(f"{exc}\n--- alliance viz output ---\n{log.read_text()}") from exc
    assert problems == []
    assert "in the browser at http://127.0.0.1:" in log.read_text()


def drive(tab) -> None:
    """Step and check, take the README picture, then reject and fix a slider.

    Play / pause is Mesa's own threaded loop; tests/test_app.py drives it without a browser.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=PAGE_WAIT_MS)
    date = tab.locator(".alliance-date")
    network = tab.locator(".alliance-network img")
    step = tab.get_by_role("button", name="Step")

    expect(date).to_have_text(re.compile(r"^Date: 2023-01 · 0 of 480 months"))
    expect(network).to_have_count(1)
    first_picture = network.screenshot()
    first_src = network.get_attribute("src")

    # Step: the date advances one month per click.
    for n in range(1, SCREENSHOT_STEPS + 1):
        step.click()
        expect(date).to_contain_text(f" · {n} of 480 months")
    expect(date).to_have_text(re.compile(r"^Date: 2023-10 "))
    # The network picture has been redrawn (a new image, loaded) and looks different.
    tab.wait_for_function(
        "src => { const img = document.querySelector('.alliance-network img');"
        " return img.src !== src && img.complete && img.naturalWidth > 0; }",
        arg=first_src,
    )
    assert network.screenshot() != first_picture
    expect(tab.locator(".alliance-events li", has_text="vostochny-summit")).to_have_count(1)
    expect(tab.locator(".alliance-spells")).to_contain_text("United States – South Korea")
    expect(tab.locator(".v-alert")).to_have_count(0)
    assert_no_error_text(tab)

    tab.mouse.move(0, 0)  # no hover or focus styling in the picture
    tab.evaluate("document.activeElement && document.activeElement.blur()")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOT), animations="disabled")

    # A slider combination the model rejects: a readable message, a page that still answers.
    tab.get_by_role("slider", name="w_init · new strength").press("Home")  # w_init = 0
    tab.get_by_role("button", name="Reset").click()
    alert = tab.locator(".alliance-rejected")
    expect(alert).to_contain_text("w_init=0.0 is below w_func=0.3")
    expect(date).to_have_text(re.compile(r"^Date: 2023-01 · 0 of 480 months"))
    tab.get_by_role("slider", name="w_init · new strength").press("End")  # w_init = 1
    tab.get_by_role("button", name="Reset").click()
    expect(alert).to_have_count(0)
    step.click()
    expect(date).to_contain_text(" · 1 of 480 months")
    assert_no_error_text(tab)
