"""test_dashboard_browser.py: the dashboard in a real browser, end to end.

Headless Chromium (Debian's chromium + chromium-driver, driven by
python3-selenium) opens the dashboard of a whole stack started with
`mlops up` (fresh store, free ports, admin token set), checks that runs,
model versions and workers (with their instance names) render once the
token is typed (with an admin token the gateway wants one for reads too;
before it the live panels say they cannot read, after it "no rollout"),
shows a task's log lines when its stage is clicked and a run's with its
"logs" button (as text: a log line never becomes markup), clicks Retrain (refused without
the token, accepted with it), waits for the new version, promotes it with its
button when the broker archived it, waits until the page shows it in
production, and saves a screenshot (its path is printed).
The "Live feedback" and "Rollout" panels: a real gateway and inference
worker (two versions) against test_canary.py's scripted broker; their empty
states, then labels posted for canary-routed predictions shown per version
as /api/feedback has them, the broker's canary and shadow figures, and how
the last rollout ended shown as text even when it looks like markup.
Skips, saying why, when chromium, chromedriver or selenium is missing.
"""
import shutil
import signal
import tempfile
import time

import pytest
import requests

from test_canary import setup, warm  # noqa: F401  (setup: the scripted broker, gateway and worker)
from test_canary import state as canary_state
from test_up import Up
from test_v2 import artifact  # noqa: F401  (the module's artifact fixture)

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
    #  the live panels say why they are empty, each in its own place (read
    #  before the token is typed: the live panels' next poll sends it, and
    #  under load that poll can come before these reads)
    wait.until(lambda d: d.find_element(By.ID, "rollout-state").text.startswith("rollout unknown: "))
    assert "token" in browser.find_element(By.ID, "rollout-state").text
    wait.until(lambda d: d.find_element(By.ID, "feedback-counts").text
               .startswith("cannot read the feedback log: "))
    #  without the token the button's action is refused, and the page says so
    browser.find_element(By.ID, "retrain").click()
    wait.until(lambda d: "401" in d.find_element(By.ID, "message").text)
    browser.find_element(By.ID, "token").send_keys(TOKEN)

    #  first model, its run and the workers render
    wait.until(lambda d: d.find_element(By.ID, "conn").text == "live")
    #  the real broker's CANARY: no rollout; nothing labelled yet
    wait.until(lambda d: d.find_element(By.ID, "rollout-state").text == "no rollout")
    wait.until(lambda d: cells(d, "feedback") == [["no labels yet"]])
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


def set_rollout(broker, **figures):
    """The broker's CANARY answer from now on: canary_state's keys (rollout,
    version, production, percent, started_ms) and any of its figures."""
    kinds = {k: figures.pop(k) for k in ("rollout", "version", "production", "percent", "started_ms")
             if k in figures}
    with broker.lock:
        broker.state = {**canary_state(**kinds), **figures}


def text_of(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def test_live_feedback_and_rollout_panels(setup, browser, tmp_path):  # noqa: F811
    broker, gw = setup
    wait = WebDriverWait(browser, WAIT_SEC, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException])
    browser.get(gw.url + "/")

    #  empty states: nothing labelled, no rollout
    wait.until(lambda d: cells(d, "feedback") == [["no labels yet"]])
    wait.until(lambda d: text_of(d, "#rollout-state") == "no rollout")
    assert not browser.find_element(By.ID, "rollout-sides").is_displayed()
    assert "0 predictions logged" in text_of(browser, "#feedback-counts")

    #  a canary of v2 at half the requests: fixed request ids split between
    #  the versions (the hash is fixed), and a label for each answer
    started = int(time.time() * 1000)
    set_rollout(broker, rollout="canary", version=2, production=1, percent=50.0, started_ms=started,
                ends_ms=started + 600000)
    wait.until(lambda d: text_of(d, "#rollout-state").startswith("canary of v2 at 50 % of requests"))
    warm(gw)
    answers = [requests.post(gw.url + "/predict", json={"Pclass": 1 + i % 3, "Sex": "female" if i % 2 else "male",
                                                         "Age": 20 + i}, headers={"X-Request-Id": "dash-%d" % i},
                             timeout=10).json() for i in range(24)]
    assert {a["model_version"] for a in answers} == {1, 2}
    items = [{"request_id": a["request_id"], "label": i % 2} for i, a in enumerate(answers)]
    r = requests.post(gw.url + "/feedback", json={"items": items}, timeout=5)
    assert r.status_code == 200 and r.json()["accepted"] == 24, r.text
    fed = requests.get(gw.url + "/api/feedback", timeout=5).json()
    by_version = {v["version"]: v for v in fed["versions"]}
    assert set(by_version) == {1, 2}

    #  the feedback panel: newest version first, the figures /api/feedback has
    want = [["v%d" % n, str(by_version[n]["labelled"]), "%.4f" % by_version[n]["accuracy"],
             "%.4f" % by_version[n]["log_loss"], "%.4f" % by_version[n]["auc"], "–"] for n in (2, 1)]
    wait.until(lambda d: cells(d, "feedback") == want)
    counts = text_of(browser, "#feedback-counts")
    assert "%d predictions logged · 24 labels accepted · 0 unknown id · 0 duplicate" % fed["logged"] in counts

    #  the broker's summed figures (scripted) beside each side's live metric
    set_rollout(broker, rollout="canary", version=2, production=1, percent=50.0, started_ms=started,
                ends_ms=started + 600000, cand_requests=123, cand_errors=2, prod_requests=1000,
                prod_errors=1, cand_p99_ms=4.5, prod_p99_ms=3.25)
    live = {n: "accuracy %.4f of %d" % (by_version[n]["accuracy"], by_version[n]["labelled"]) for n in (1, 2)}
    wait.until(lambda d: cells(d, "rollout-sides") == [
        ["candidate", "v2", "123", "2", "1.6 %", "4.50 ms", live[2]],
        ["production", "v1", "1000", "1", "0.1 %", "3.25 ms", live[1]]])
    head = text_of(browser, "#rollout-state")
    assert "production v1" in head and head.endswith(" left"), head

    #  a shadow by requests left, then none: how it ended, as text only
    set_rollout(broker, rollout="shadow", version=2, production=1, started_ms=started,
                requests_target=500, cand_requests=120, compared=40, agreed=38)
    wait.until(lambda d: text_of(d, "#rollout-agreement")
               == "agreement with production 95.0 % (38 of 40 records)")
    assert text_of(browser, "#rollout-state").endswith("380 of 500 candidate requests left")
    last = 'rolled back v2: <img src=x id=inject> error rate 12% > 0.2% + 1 point'
    set_rollout(broker, last=last)
    wait.until(lambda d: text_of(d, "#rollout-state") == "no rollout")
    wait.until(lambda d: text_of(d, "#rollout-last") == "last rollout: " + last)
    assert not browser.find_elements(By.ID, "inject")
    assert not browser.find_element(By.ID, "rollout-sides").is_displayed()
    assert text_of(browser, "#rollout-agreement") == ""
    refused = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not refused, refused
    shot = str(tmp_path / "live-panels.png")
    assert browser.save_screenshot(shot)
    print("screenshot:", shot)
