#!/usr/bin/python3
"""The web dashboard in a real browser: headless Chromium driven over the DevTools protocol.

Runs a small study with learning curves and median stopping (`hpo run`), serves its db with
`hpo-coordinator --http`, and checks what the pages rendered against the API: the studies list,
every plot's point count, the stop markers and their tooltip, the trials table (rows, sorting,
filtering), the trial detail, importance, the downloads. Then creates a second study on the
running coordinator, opens its page, starts a worker, and follows it live to COMPLETED.

Environment: HPO_BIN, HPO_COORDINATOR_BIN, HPO_WORKER_BIN (default: build/bin/ next to this
file's repository). Needs Debian's `chromium` and `python3-websocket`; skipped without them.

  /usr/bin/python3 tests/dashboard_browser_test.py [--screenshot PATH] [unittest args]

--screenshot PATH saves the finished study's page (1400x2000) as a PNG (docs/dashboard.png).
"""
import base64
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

try:
    import websocket  # python3-websocket
except ImportError:  # pragma: no cover - reported as a skip
    websocket = None

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "build", "bin")
# Absolute: the processes run in a temporary directory.
HPO = os.path.abspath(os.environ.get("HPO_BIN", os.path.join(BIN, "hpo")))
COORDINATOR = os.path.abspath(os.environ.get("HPO_COORDINATOR_BIN", os.path.join(BIN, "hpo-coordinator")))
WORKER = os.path.abspath(os.environ.get("HPO_WORKER_BIN", os.path.join(BIN, "hpo-worker")))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = None  # set by --screenshot

# A finished study with curves: 10 steps per trial, median stopping prunes some.
FINISHED_STUDY = """\
name: dash-finished
objective: {metric: value, direction: minimize}
optimizer: {name: tpe, seed: 3}
early_stopping: {name: median, options: {warmup_steps: 2, min_trials: 4}}
budget: {max_trials: 30, max_parallel: 4, max_retries: 1, trial_timeout_s: 60}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin, args: {steps: 10, step_ms: 40}}
"""

# The live one: int, log, categorical and conditional parameters; slow enough to watch.
LIVE_STUDY = """\
name: dash-live
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 7}
budget: {max_trials: 14, max_parallel: 2}
space:
  x: {type: float, low: 0.01, high: 5, log: true}
  n: {type: int, low: 1, high: 10}
  kind: {type: categorical, choices: [a, b, c]}
  y: {type: float, low: 0, high: 1, condition: {parent: kind, values: [b]}}
task: {builtin: mixed, args: {steps: 4, step_ms: 40}}
"""

PAGE_TIMEOUT_S = 20
LIVE_TIMEOUT_S = 40


def poll(predicate, timeout, what, interval=0.05):
    """Calls predicate until it returns something truthy; fails naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class LineReader:
    """Collects a process's stdout lines on a thread, so reading never blocks past a deadline."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in iter(stream.readline, ""):
            self.lines.put(line.rstrip("\n"))
        stream.close()

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; saw {self.seen!r}")


class Browser:
    """One headless Chromium page, driven over the DevTools protocol (JSON over a websocket)."""

    def __init__(self, profile_dir):
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
             f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = os.path.join(profile_dir, "DevToolsActivePort")

        def port():
            if self.process.poll() is not None:
                raise AssertionError(f"chromium exited with {self.process.returncode}")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                return int(first) if first else None
            except (OSError, ValueError):
                return None

        self.port = poll(port, 30, "chromium's DevToolsActivePort")

        def page_url():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                    targets = json.load(r)
            except (OSError, ValueError):
                return None
            pages = [t for t in targets if t.get("type") == "page" and "webSocketDebuggerUrl" in t]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        ws_url = poll(page_url, 15, "a page target")
        # No Origin header: Chromium refuses websocket origins it was not told to allow.
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.console = []  # console errors and uncaught exceptions seen on the page
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == my_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                         for a in params.get("args", [])))

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=PAGE_TIMEOUT_S):
        return poll(lambda: self.evaluate(expression), timeout, what)

    def open(self, url):
        """Navigates and waits for the dashboard's first full render (body data-ready)."""
        self.evaluate("window.dashboardTestOldPage = true")  # tells the old page from the new
        self.call("Page.navigate", url=url)
        path = urllib.parse.urlsplit(url).path  # a ?token= is dropped by a redirect
        self.wait_for(f"!window.dashboardTestOldPage && location.pathname === {json.dumps(path)} && "
                      "document.readyState === 'complete' && document.body && "
                      "document.body.dataset.ready === '1'",
                      f"{url} to render")

    def close(self):
        try:
            self.ws.close()
        except Exception:  # pylint: disable=broad-except
            pass
        stop_process(self.process)


def stop_process(process, grace=5):
    """SIGTERM to the process's own session (it was started in a new one), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def finite(value):
    return isinstance(value, (int, float)) and value == value and abs(value) != float("inf")


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (deploy/install-deps.sh)")
@unittest.skipIf(websocket is None, "python3-websocket is not installed (deploy/install-deps.sh)")
class DashboardBrowserTest(unittest.TestCase):

    def setUp(self):
        self.started = time.monotonic()
        self.tmp = tempfile.mkdtemp(prefix="hpo-dashboard-test-")
        self.processes = []
        self.browser = None
        self.db = os.path.join(self.tmp, "hpo.db")
        study_file = self.write("finished.yaml", FINISHED_STUDY)
        run = subprocess.run([HPO, "run", study_file, "--workers", "4", "--db", self.db],
                             capture_output=True, text=True, timeout=60, cwd=self.tmp)
        self.assertEqual(run.returncode, 0, run.stderr)
        # A copy for a second coordinator, one with tokens (one owner per db file).
        self.token_db = os.path.join(self.tmp, "tokens.db")
        for suffix in ("", "-wal"):
            if os.path.exists(self.db + suffix):
                shutil.copyfile(self.db + suffix, self.token_db + suffix)

        self.grpc_port, self.base = self.start_coordinator(self.db)
        self.browser = Browser(os.path.join(self.tmp, "chromium"))
        self.browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=2000,
                          deviceScaleFactor=1, mobile=False)

    def tearDown(self):
        if self.browser:
            self.browser.close()
        for process in reversed(self.processes):
            stop_process(process)
        shutil.rmtree(self.tmp, ignore_errors=True)
        print(f"\n{self.id()}: {time.monotonic() - self.started:.1f} s", file=sys.stderr)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_coordinator(self, db, *flags):
        """Starts hpo-coordinator on db with the dashboard; returns (gRPC port, dashboard URL)."""
        process = self.spawn([COORDINATOR, "--db", db, "--listen", "127.0.0.1:0",
                              "--http", "127.0.0.1:0", *flags], stdout=subprocess.PIPE)
        lines = LineReader(process.stdout)
        port = int(lines.wait_for(r"listening on port (\d+)", 20).group(1))
        base = lines.wait_for(r"dashboard on (http://\S+?)/?$", 20).group(1)
        return port, base

    def spawn(self, argv, **kwargs):
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        process = subprocess.Popen(argv, stderr=subprocess.DEVNULL, text=True, cwd=self.tmp,
                                   start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def api(self, path):
        return get_json(self.base + path)

    def js(self, expression):
        return self.browser.evaluate(expression)

    def data(self, element_id, key):
        return self.js(f"(document.getElementById({json.dumps(element_id)}) || {{dataset: {{}}}})"
                       f".dataset[{json.dumps(key)}] ?? null")

    def assertNoPageErrors(self):
        self.assertEqual(self.browser.console, [], "errors on the page")

    # ------------------------------------------------------------------------------------------

    def test_dashboard(self):
        self.check_studies_list()
        self.check_finished_study()
        if SCREENSHOT:
            self.take_screenshot(SCREENSHOT)
        self.check_tokens()
        self.check_live_study()
        self.assertNoPageErrors()

    def check_studies_list(self):
        self.browser.open(self.base + "/")
        row = self.js("""(() => {
            const row = document.querySelector('#studies tr[data-study="dash-finished"]');
            if (!row) return null;
            return {href: row.querySelector('a').getAttribute('href'), text: row.textContent};
        })()""")
        self.assertIsNotNone(row, "dash-finished is not listed")
        self.assertEqual(row["href"], "/study/dash-finished")
        self.assertIn("COMPLETED", row["text"])
        self.assertIn("30 / 30", row["text"])
        self.assertEqual(self.data("studies", "rows"), "1")

    def check_finished_study(self):
        name = "dash-finished"
        trials = self.api(f"/api/studies/{name}/trials")
        study = self.api(f"/api/studies/{name}")
        try:
            importance = self.api(f"/api/studies/{name}/importance")
        except urllib.error.HTTPError as e:  # fewer than 10 completed: the page says why
            self.assertEqual(e.code, 422)
            importance = None
        metric = study["objective"]["metric"]
        completed = [t for t in trials if t["state"] == "COMPLETED" and finite(t["value"])]
        with_curves = [t for t in trials
                       if any(finite(m["metrics"].get(metric)) for m in t["measurements"])]
        stopped = [t for t in with_curves if t["state"] in ("PRUNED", "FAILED")]
        pruned = [t for t in trials if t["state"] == "PRUNED"]
        self.assertEqual(len(trials), 30)
        self.assertTrue(pruned, "the median rule pruned nothing: no stop marker to check")
        self.assertTrue(all(t["measurements"] for t in trials), "a trial without its curve")

        self.browser.open(f"{self.base}/study/{name}")
        self.assertEqual(self.js("document.getElementById('study-state').textContent"), "COMPLETED")
        self.assertEqual(self.data("history", "points"), str(len(completed)))
        self.assertEqual(self.data("curves", "points"), str(len(with_curves)))
        self.assertEqual(self.data("curves", "stopped"), str(len(stopped)))
        self.assertEqual(self.data("parallel", "points"), str(len(completed)))
        self.assertEqual(self.data("slices", "points"), str(len(completed)))
        slices = self.js("Object.fromEntries([...document.querySelectorAll('#slices .slice')]"
                         ".map((s) => [s.dataset.param, s.dataset.points]))")
        self.assertEqual(slices, {"x1": str(len(completed)), "x2": str(len(completed))})
        if importance:
            self.assertEqual(self.data("importance", "state"), "chart")
            self.assertEqual(self.data("importance", "points"), str(importance["trials"]))
            self.assertEqual(self.data("importance", "params"), str(len(importance["importance"])))
        else:
            self.assertEqual(self.data("importance", "state"), "message")
        self.assertEqual(self.data("trials", "rows"), str(len(trials)))
        self.assertEqual(self.js("document.querySelectorAll('#trials tbody tr').length"), len(trials))
        # Each chart holds what the attributes claim.
        self.assertEqual(self.js("Chart.getChart(document.querySelector('#history canvas'))"
                                 ".data.datasets[1].data.length"), len(completed))
        self.assertEqual(self.js("Chart.getChart(document.querySelector('#curves canvas'))"
                                 ".data.datasets.length"), len(with_curves) + 1)

        self.check_stop_tooltip()
        self.check_table(trials, study)
        self.check_detail(pruned[0])
        self.check_downloads(name)

    def check_stop_tooltip(self):
        """Hovering a stop marker shows that trial's stop summary."""
        target = self.js("""(() => {
            const canvas = document.querySelector('#curves canvas');
            canvas.scrollIntoView({block: 'center'});
            const chart = Chart.getChart(canvas);
            const point = chart.getDatasetMeta(0).data[0];
            const raw = chart.data.datasets[0].data[0];
            const box = canvas.getBoundingClientRect();
            return {x: box.left + point.x, y: box.top + point.y, why: raw.why, number: raw.trial.number};
        })()""")
        self.browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=target["x"], y=target["y"])
        tooltip = self.browser.wait_for(
            "(() => { const t = Chart.getChart(document.querySelector('#curves canvas')).tooltip;"
            " return t.opacity > 0 && t.body ? t.body.flatMap((b) => b.lines).join(' ') : null; })()",
            "the stop marker's tooltip")
        words = target["why"].split()
        self.assertTrue(all(w in tooltip for w in words), f"{target['why']!r} not in {tooltip!r}")

    def check_table(self, trials, study):
        first_number = "(document.querySelector('#trials tbody tr td') || {}).textContent"
        # Sort by the objective (every trial with a value, pruned ones too): the lowest first;
        # again: the highest.
        valued = [t for t in trials if finite(t["value"])]
        lowest = min(valued, key=lambda t: (t["value"], t["number"]))
        highest = max(valued, key=lambda t: (t["value"], t["number"]))
        self.js("document.querySelector('#trials th[data-key=\"value\"]').click()")
        self.assertEqual(self.js(first_number), str(lowest["number"]))
        self.assertLessEqual(lowest["value"], study["best_trial"]["value"])
        self.js("document.querySelector('#trials th[data-key=\"value\"]').click()")
        self.assertEqual(self.js(first_number), str(highest["number"]))
        self.js("document.querySelector('#trials th[data-key=\"number\"]').click()")
        self.assertEqual(self.js(first_number), "0")

        # Filters: by state, then by text (a worker id), then none.
        self.js("""(() => { const s = document.getElementById('state-filter');
                   s.value = 'PRUNED'; s.dispatchEvent(new Event('change')); })()""")
        pruned = [t for t in trials if t["state"] == "PRUNED"]
        self.assertEqual(self.data("trials", "rows"), str(len(pruned)))
        self.js("""(() => { const s = document.getElementById('state-filter');
                   s.value = ''; s.dispatchEvent(new Event('change')); })()""")
        worker = trials[0]["worker"]
        on_worker = [t for t in trials if worker in t["worker"]]
        self.js(f"""(() => {{ const box = document.getElementById('text-filter');
                   box.value = {json.dumps(worker)}; box.dispatchEvent(new Event('input')); }})()""")
        self.assertEqual(self.data("trials", "rows"), str(len(on_worker)))
        self.js("""(() => { const box = document.getElementById('text-filter');
                   box.value = ''; box.dispatchEvent(new Event('input')); })()""")
        self.assertEqual(self.data("trials", "rows"), str(len(trials)))

    def check_detail(self, trial):
        """Clicking a row opens its detail: parameters, curve, final metrics, why it stopped."""
        self.js(f"document.querySelector('#trials tbody tr[data-trial-id=\"{trial['id']}\"]').click()")
        expected_points = str(len(trial["measurements"]))
        self.browser.wait_for(
            f"!document.getElementById('detail').hidden && "
            f"document.getElementById('detail').dataset.trialId === '{trial['id']}' && "
            f"document.getElementById('detail-curve').dataset.points === '{expected_points}'",
            "the trial detail with its curve")
        self.assertIn(f"#{trial['number']}", self.js("document.getElementById('detail-title').textContent"))
        self.assertEqual(self.js("document.getElementById('detail-state').textContent"), "PRUNED")
        self.assertIn(trial["stop"]["summary"], self.js("document.getElementById('detail-reason').textContent"))
        params = self.js("[...document.querySelectorAll('#detail-params tr')]"
                         ".map((r) => r.querySelector('th').textContent)")
        self.assertEqual(sorted(params), sorted(trial["params"]))
        self.assertIn(trial["worker"], self.js("document.getElementById('detail-facts').textContent"))
        self.assertEqual(self.js("document.querySelectorAll('#detail-metrics tr').length"),
                         len(trial["metrics"]))
        # The address links to the trial: opened anew, the page shows its detail.
        self.assertEqual(self.js("location.hash"), f"#trial-{trial['id']}")
        linked = self.js("location.href")
        self.browser.call("Page.navigate", url="about:blank")  # else only the fragment moves
        self.browser.open(linked)
        self.browser.wait_for(
            f"document.getElementById('detail').dataset.trialId === '{trial['id']}' && "
            f"document.getElementById('detail-curve').dataset.points === '{expected_points}'",
            "the linked trial's detail")

    def check_downloads(self, name):
        for kind, link in (("csv", "download-csv"), ("json", "download-json")):
            href = self.js(f"document.getElementById('{link}').href")
            self.assertTrue(href.endswith(f"/api/studies/{name}/trials.{kind}"), href)
            with urllib.request.urlopen(href, timeout=10) as r:
                self.assertIn("attachment", r.headers.get("Content-Disposition", ""))
                body = r.read().decode()
            if kind == "json":
                self.assertEqual(len(json.loads(body)), 30)
            else:
                self.assertEqual(len(body.strip().splitlines()), 31)  # header + 30 trials

    def check_tokens(self):
        """With --token-file: ?token= on a page opens it (a cookie carries it on); no token, 401."""
        token = "dashboard-test-client-token"
        token_file = self.write("tokens", f"client {token}\n")
        os.chmod(token_file, 0o600)
        _, base = self.start_coordinator(self.token_db, "--token-file", token_file)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            get_json(base + "/api/studies")
        self.assertEqual(refused.exception.code, 401)
        self.assertIn("error", json.loads(refused.exception.read()))
        self.browser.open(f"{base}/?token={token}")
        self.assertNotIn("token", self.js("location.href"))
        self.assertEqual(self.data("studies", "rows"), "1")
        self.browser.open(f"{base}/study/dash-finished")  # the cookie, no ?token=
        self.assertEqual(self.data("trials", "rows"), "30")

    def check_live_study(self):
        name = "dash-live"
        study_file = self.write("live.yaml", LIVE_STUDY)
        create = subprocess.run([HPO, "--coordinator", f"127.0.0.1:{self.grpc_port}", "study",
                                 "create", "-f", study_file], capture_output=True, text=True,
                                timeout=30, cwd=self.tmp)
        self.assertEqual(create.returncode, 0, create.stderr)
        self.browser.open(f"{self.base}/study/{name}")
        self.assertEqual(self.js("document.getElementById('study-state').textContent"), "RUNNING")
        self.assertEqual(self.data("trials", "rows"), "0")
        # No completed trial yet: importance says why in place of the chart.
        self.assertEqual(self.data("importance", "state"), "message")
        self.assertIn("at least", self.js("document.querySelector('#importance .message').textContent"))
        self.browser.wait_for("Number(document.body.dataset.liveEvents) >= 1", "the SSE snapshot")

        self.spawn([WORKER, "--coordinator", f"127.0.0.1:{self.grpc_port}", "--slots", "2",
                    "--gpus", "none", "--log-dir", os.path.join(self.tmp, "logs"),
                    "--trial-dir-root", os.path.join(self.tmp, "trials"), "--acquire-wait", "1"])
        max_trials = 14
        self.browser.wait_for(
            f"document.getElementById('trials').dataset.rows === '{max_trials}' && "
            "document.getElementById('study-state').textContent === 'COMPLETED' && "
            "Number(document.body.dataset.liveEvents) >= 5",
            "the live study to reach COMPLETED on the page", timeout=LIVE_TIMEOUT_S)
        trials = self.api(f"/api/studies/{name}/trials")
        metric = self.api(f"/api/studies/{name}")["objective"]["metric"]
        completed = [t for t in trials if t["state"] == "COMPLETED" and finite(t["value"])]
        with_curves = [t for t in trials
                       if any(finite(m["metrics"].get(metric)) for m in t["measurements"])]
        self.assertEqual(len(trials), max_trials)
        self.assertEqual(len(completed), max_trials)
        # The plots followed the events to the end, and importance was computed again.
        self.browser.wait_for(
            f"document.getElementById('history').dataset.points === '{len(completed)}' && "
            f"document.getElementById('curves').dataset.points === '{len(with_curves)}' && "
            f"document.getElementById('parallel').dataset.points === '{len(completed)}' && "
            f"document.getElementById('slices').dataset.points === '{len(completed)}' && "
            "document.getElementById('importance').dataset.state === 'chart' && "
            "document.getElementById('live').hidden",
            "the plots to show every live trial")
        # The conditional parameter y exists only where kind == b; its slice plots only those.
        with_y = [t for t in completed if "y" in t["params"]]
        self.assertEqual(self.js("document.querySelector('#slices .slice[data-param=\"y\"]').dataset.points"),
                         str(len(with_y)))
        self.assertEqual(self.js("Chart.getChart(document.querySelector('.slice[data-param=\"x\"] canvas'))"
                                 ".options.scales.x.type"), "logarithmic")
        self.assertEqual(self.js("Chart.getChart(document.querySelector('.slice[data-param=\"kind\"] canvas'))"
                                 ".options.scales.x.type"), "category")

    def take_screenshot(self, path):
        self.browser.open(f"{self.base}/study/dash-finished")  # as a visitor first sees it
        shot = self.browser.call("Page.captureScreenshot", format="png",
                                 clip={"x": 0, "y": 0, "width": 1400, "height": 2000, "scale": 1},
                                 captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}", file=sys.stderr)


if __name__ == "__main__":
    if "--screenshot" in sys.argv:
        i = sys.argv.index("--screenshot")
        SCREENSHOT = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    unittest.main()
