"""The page of ``mefkit serve`` in a real browser: headless Chromium driven by Selenium.

The test uploads the bundled example bracket through the file picker, types a bad value
into the generated parameter form (refused in the CLI's words), waits for the Mertens
result, moves the before/after slider with the mouse, downloads the result and
compares it with ``mefkit.fuse`` on the same frames (PSNR > 45 dB). Other oracles: the
thumbnails are in darkest-first order, and once the slider moves left the compared area
shows more of the result (brighter than the darkest input) than before.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped
with the reason where they are missing. With ``MEFKIT_SERVE_SCREENSHOT=PATH`` the test
also saves its screenshot of the page there (how docs/figures/serve.png is made).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'mefkit[web]')")
pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install 'mefkit[web]')")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (test extra)")

import mefkit
from mefkit.cli.serve import listen_socket
from mefkit.example import example_bracket
from mefkit.serve import create_app

ROOT = Path(__file__).resolve().parents[1]
#: Flags that keep Chromium offline and stateless in a container (as scripts/screenshot_report.py).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1900", "--force-device-scale-factor=1",
                  "--hide-scrollbars")


def _find_chromium() -> str | None:
    spec = importlib.util.spec_from_file_location("screenshot_report", ROOT / "scripts" / "screenshot_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.find_chromium()


@pytest.fixture()
def server():
    import uvicorn

    sock = listen_socket("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(300):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture()
def browser(tmp_path):
    chromium, driver_exe = _find_chromium(), shutil.which("chromedriver")
    if chromium is None or driver_exe is None:
        pytest.skip("chromium and chromium-driver are not installed (Debian: apt-get install -y chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    profile = tempfile.mkdtemp(prefix="mefkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_exe))
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.downloads = downloads
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(predicate, timeout: float = 45.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _element_png(driver, element) -> np.ndarray:
    png = element.screenshot_as_png
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]


@pytest.mark.slow
def test_fuse_the_example_in_the_browser(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(server + "/")
    _wait(lambda: d.find_elements(By.CSS_SELECTOR, '#methods input[data-method="mertens"]:checked'), what="methods")
    # the example button loads the bundled bracket ...
    d.find_element(By.ID, "use-example").click()
    _wait(lambda: len(d.find_elements(By.CSS_SELECTOR, "#thumbs figcaption")) == 3, what="example thumbnails")
    # ... and so does the file picker, given the files in reverse order: the page shows them darkest first
    d.find_element(By.ID, "frames").send_keys("\n".join(str(p) for p in reversed(example_bracket())))
    thumbs = _wait(lambda: d.find_elements(By.CSS_SELECTOR, "#thumbs figcaption"), what="thumbnails")
    assert [t.text for t in thumbs] == ["1 · darkest · coffee_1_under.jpg", "2 · coffee_2_mid.jpg",
                                        "3 · brightest · coffee_3_over.jpg"]
    assert "darkest first" in d.find_element(By.ID, "order-note").text
    fuse = d.find_element(By.ID, "fuse")
    assert fuse.is_enabled()
    # a bad value in the generated parameter form: refused in the CLI's words, nothing queued
    levels = d.find_element(By.ID, "p-mertens-levels")
    assert levels.get_attribute("placeholder") == "int or none"
    levels.send_keys("2.5")
    fuse.click()
    message = d.find_element(By.ID, "message")
    _wait(lambda: message.is_displayed(), what="the error message")
    assert message.text == "mertens: parameter levels: expected int or none, got '2.5' (not a whole number)"
    assert d.find_elements(By.CSS_SELECTOR, ".result") == []
    levels.clear()
    d.find_element(By.CSS_SELECTOR, '#methods input[data-method="dem"]').click()  # a second method
    assert d.find_element(By.CSS_SELECTOR, '#params fieldset[data-method="dem"]').is_displayed()
    fuse.click()
    _wait(lambda: len(d.find_elements(By.CSS_SELECTOR, '.result[data-state="done"]')) == 2, what="both results")
    card = d.find_element(By.CSS_SELECTOR, '.result[data-method="mertens"]')
    img = card.find_element(By.CSS_SELECTOR, "img.result-img")
    _wait(lambda: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img), what="image")
    assert d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img) == [600, 400]
    stats = card.find_element(By.CSS_SELECTOR, ".stats").text
    assert stats.startswith("MEF-SSIM 0.") and stats.endswith(" s")

    # before/after: the darkest input against the result, split by the slider
    before = d.find_element(By.ID, "cmp-before-img")
    choices = [o.text for o in Select(d.find_element(By.ID, "cmp-before")).options]
    assert choices[:3] == ["input 1: coffee_1_under.jpg", "input 2: coffee_2_mid.jpg", "input 3: coffee_3_over.jpg"]
    assert sorted(choices[3:]) == ["result: dem", "result: mertens"]  # a result against another one, too
    assert Select(d.find_element(By.ID, "cmp-before")).first_selected_option.text == "input 1: coffee_1_under.jpg"
    _wait(lambda: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", before), what="frame")
    stage = d.find_element(By.ID, "compare-stage")
    d.execute_script("arguments[0].scrollIntoView()", stage)
    shot = _element_png(d, stage).astype(float).mean(axis=2)
    w = shot.shape[1]
    assert shot[:, : w // 3].mean() + 20 < shot[:, 2 * w // 3:].mean()  # dark input left, result right
    assert before.value_of_css_property("clip-path") == "inset(0px 50% 0px 0px)"
    slider = d.find_element(By.ID, "slider")
    ActionChains(d).click_and_hold(slider).move_by_offset(-slider.size["width"] // 3, 0).release().perform()
    value = int(slider.get_attribute("value"))
    assert value < 30
    assert before.value_of_css_property("clip-path") == f"inset(0px {100 - value}% 0px 0px)"
    moved = _element_png(d, stage).astype(float).mean(axis=2)
    band = slice(int(w * 0.2), int(w * 0.45))  # was the dark input, now the result
    assert moved[:, band].mean() > shot[:, band].mean() + 20

    # zoom: 2:1 and 1:1 pixels draw both images at twice and at their own size
    for value, width in (("2", 1200), ("1", 600)):
        Select(d.find_element(By.ID, "zoom")).select_by_value(value)
        _wait(lambda: [d.find_element(By.ID, i).size["width"] for i in ("cmp-after-img", "cmp-before-img")]
              == [width, width], what=f"{value}:1 zoom")
    Select(d.find_element(By.ID, "zoom")).select_by_value("fit")

    # download the result (PNG 8-bit) and compare it with the library on the same frames
    ActionChains(d).click_and_hold(slider).move_by_offset(slider.size["width"] // 5, 0).release().perform()
    card.find_element(By.CSS_SELECTOR, "a.download").click()
    files = _wait(lambda: [p for p in d.downloads.iterdir() if p.suffix == ".png"], what="the download")
    assert files[0].name == "coffee_1_under_mertens.png"
    got = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)[:, :, ::-1] / 255.0
    want = mefkit.fuse(example_bracket())
    assert 10 * np.log10(1 / np.mean((got - want) ** 2)) > 45

    target = os.environ.get("MEFKIT_SERVE_SCREENSHOT")
    if target:  # the whole page, as tall as it is
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False})
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(str(Path(target).resolve()))
