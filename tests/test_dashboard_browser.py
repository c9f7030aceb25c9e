"""test_dashboard_browser.py: the dashboard in a real browser, end to end.

Headless Chromium (Debian's chromium + chromium-driver, driven by
python3-selenium) opens the dashboard of a whole stack started with
`mlops up` (fresh store, free ports, admin token set), checks that runs,
model versions and workers (with their instance names) render once the
token is typed (with an admin token the gateway wants one for reads too),
shows a task's log lines when its stage is clicked and a run's with its
"logs" button (as text: a log line never becomes markup), clicks Retrain (refused without
the token, accepted with it), waits for the new version, promotes it with its
button when the broker archived it, waits until the page shows it in
production, and saves a screenshot (its path is printed).
Skips, saying why, when chromium, chromedriver or selenium is missing.
"""
import shutil
import signal
import tempfile

import pytest
import requests

from test_up import Up

TOKEN = "dash-token"
WAIT_SEC = 45   # whole-test bound is the caller's: these are upper limits, not thresholds

webdriver = pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed")
from selenium.common.exceptions import (NoSuchElementException,  # noqa: E402
                                        StaleElementReferenceException)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def stack(monkeypatch):
    monkeypatch.setenv("MLOPS_ADMIN_TOKEN", TOKEN)
    up = Up("--infer-workers", "1", "--train-workers", "1")
    yield up
    up.destroy(signal.SIGINT)


def chromium(*extra_flags):
    """Yields a headless Chromium driver (extra command-line flags added),
    quit and its profile removed at the end; skips when it is missing.
    test_http_guard.py uses it too."""
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("chromium or chromedriver is not installed (Debian: chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="mlops-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=1280,1100",
                 "--user-data-dir=" + profile, *extra_flags):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})   # console: CSP reports
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser():
    yield from chromium()


def cells(driver, table):
    """The text of each body row of a table, as lists of cell texts, read in
    one script call (the page redraws while we look)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map("
        "r => Array.from(r.cells).map(c => c.innerText.trim()))", "#%s tbody tr" % table)


def click(driver, css):
    """Clicks the element now matching css; True once done (for a wait)."""
    try:
        driver.find_element(By.CSS_SELECTOR, css).click()
        return True
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def version_row(driver, version):
    for row in cells(driver, "models"):
        if row and row[0] == str(version):
            return row
    return None


def test_dashboard_retrain_and_promote(stack, browser, tmp_path):
    stack.wait_for(r"ready, a model is being served", WAIT_SEC)
    wait = WebDriverWait(browser, WAIT_SEC, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException])
    browser.get("http://127.0.0.1:%d/" % stack.port)

    #  with an admin token the reads need it too: the page says so
    wait.until(lambda d: d.find_element(By.ID, "conn").text.startswith("token needed"))
    #  without the token the button's action is refused, and the page says so
    browser.find_element(By.ID, "retrain").click()
    wait.until(lambda d: "401" in d.find_element(By.ID, "message").text)
    browser.find_element(By.ID, "token").send_keys(TOKEN)

    #  first model, its run and the workers render
    wait.until(lambda d: d.find_element(By.ID, "conn").text == "live")
    wait.until(lambda d: (version_row(d, 1) or [None, None])[1] == "production")
    assert browser.find_element(By.ID, "prod").text == "production: v1"
    row = version_row(browser, 1)
    assert float(row[3]) > 0.5   # AUC shown as a number
    wait.until(lambda d: any(r[1] == "succeeded" for r in cells(d, "runs")))
    stages = lambda d: {r[0] for r in cells(d, "workers")}  # noqa: E731
    wait.until(lambda d: {"extract", "preprocess", "train", "evaluate", "load_model",
                          "infer"} <= stages(d))
    assert browser.find_elements(By.CSS_SELECTOR, "#chart circle")
    #  each worker shows its instance name, as mlops status does; the
    #  inference worker's comes from the broker's serving list
    status = requests.get("http://127.0.0.1:%d/api/workers" % stack.port,
                          headers={"Authorization": "Bearer " + TOKEN}, timeout=5).json()
    names = {w["stage"]: w["name"] for w in status["workers"]}
    [serving] = status["serving"]
    names["infer"] = serving["name"]
    wait.until(lambda d: {r[0]: r[1] for r in cells(d, "workers")}.get("infer") == names["infer"])
    shown = {r[0]: r[1:4] for r in cells(browser, "workers")}
    for stage, name in names.items():
        assert shown[stage][0] == name and shown[stage][1] and shown[stage][2].isdigit(), shown

    #  a click on a run's stage shows that task's log lines, as text
    assert browser.find_element(By.ID, "logs-panel").get_attribute("hidden")
    wait.until(lambda d: click(d, '#runs .bar[data-task$="-extract"]'))
    wait.until(lambda d: "task done task=" in d.find_element(By.ID, "logs").text)
    logs = browser.find_element(By.ID, "logs")
    text = logs.text
    assert "== 1-extract attempt 1 on %s ==" % names["extract"] in text, text
    assert "task started task=1-extract attempt=1" in text and "-train-" not in text
    assert not logs.find_elements(By.CSS_SELECTOR, "*")   # text only, no markup
    assert browser.find_element(By.ID, "logs-of").text == "task 1-extract"
    #  the run's "logs" button shows every task's
    wait.until(lambda d: click(d, '#runs button.logs[data-run="1"]'))
    wait.until(lambda d: "== 1-load_model attempt 1" in d.find_element(By.ID, "logs").text)
    assert "== 1-extract attempt 1" in browser.find_element(By.ID, "logs").text
    browser.find_element(By.ID, "logs-close").click()
    assert browser.find_element(By.ID, "logs-panel").get_attribute("hidden")

    #  with the token, a new run and then a new version
    browser.find_element(By.ID, "retrain").click()
    wait.until(lambda d: "run_id" in d.find_element(By.ID, "message").text)
    wait.until(lambda d: version_row(d, 2) is not None)
    wait.until(lambda d: version_row(d, 2)[1] in ("archived", "production"))
    if version_row(browser, 2)[1] == "archived":   # the usual case: not better on the same data
        wait.until(lambda d: click(d, 'button.promote[data-version="2"]'))
    wait.until(lambda d: d.find_element(By.ID, "prod").text == "production: v2")
    wait.until(lambda d: version_row(d, 2)[1] == "production" and version_row(d, 1)[1] != "production")
    wait.until(lambda d: sum(r[1] == "succeeded" for r in cells(d, "runs")) >= 2)
    #  the inference worker swaps the model in, and the workers table says so
    wait.until(lambda d: any(r[0] == "infer" and r[5] == "serving v2" for r in cells(d, "workers")))

    #  nothing on the page broke the gateway's Content-Security-Policy: the
    #  timeline bars are placed through the CSSOM, not inline style attributes
    assert browser.execute_script("const bars = document.querySelectorAll('#runs .bar');"
                                  "return bars.length > 0 && Array.from(bars).every("
                                  "b => b.style.width.endsWith('%'))")
    refused = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not refused, refused

    shot = str(tmp_path / "dashboard.png")
    assert browser.save_screenshot(shot)
    print("screenshot:", shot)
