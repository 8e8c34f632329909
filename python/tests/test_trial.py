"""Tests of hpo's trial helpers (run by ctest with /usr/bin/python3)."""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import unittest
from unittest import mock

import hpo


class ParamsTest(unittest.TestCase):
    def test_typed_values_from_hpo_params_with_defaults_for_the_rest(self):
        env = {"HPO_PARAMS": '{"lr": 0.01, "width": 64, "opt": "adam", "bn": true}'}
        with mock.patch.dict(os.environ, env):
            p = hpo.params(defaults={"lr": 0.1, "momentum": 0.9}, argv=["--lr", "5"])
        # HPO_PARAMS wins over defaults and argv; momentum (inactive here) is its default.
        self.assertEqual(p, {"lr": 0.01, "width": 64, "opt": "adam", "bn": True, "momentum": 0.9})
        self.assertIsInstance(p["width"], int)
        self.assertIsInstance(p["lr"], float)

    def test_outside_hpo_defaults_then_argv_typed_like_the_defaults(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            p = hpo.params(defaults={"lr": 0.1, "width": 64, "opt": "sgd", "bn": False},
                           argv=["train.py", "--width", "128", "--bn=true", "--lr=3e-4",
                                 "--other", "x"])
        self.assertEqual(p, {"lr": 3e-4, "width": 128, "opt": "sgd", "bn": True})

    def test_bad_input_is_named(self):
        with mock.patch.dict(os.environ, {"HPO_PARAMS": "{oops"}):
            with self.assertRaisesRegex(ValueError, "HPO_PARAMS is not JSON"):
                hpo.params()
        with mock.patch.dict(os.environ, {"HPO_PARAMS": "[1, 2]"}):
            with self.assertRaisesRegex(ValueError, "not a JSON object"):
                hpo.params()
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaisesRegex(ValueError, "--width: expected an integer, got '1.5'"):
                hpo.params(defaults={"width": 64}, argv=["--width", "1.5"])
            with self.assertRaisesRegex(ValueError, "--lr: missing its value"):
                hpo.params(defaults={"lr": 0.1}, argv=["--lr"])


class ReportTest(unittest.TestCase):
    def lines(self, *args, **kwargs):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            hpo.report(*args, **kwargs)
        return out.getvalue()

    def test_prints_one_metric_line(self):
        self.assertEqual(self.lines(3, loss=0.52, accuracy=0.81),
                         'hpo-metric {"step": 3, "loss": 0.52, "accuracy": 0.81}\n')
        self.assertEqual(self.lines(loss=1), 'hpo-metric {"loss": 1}\n')
        self.assertEqual(self.lines(7, loss=0.5, final=True),
                         'hpo-metric {"step": 7, "loss": 0.5, "final": true}\n')

    def test_non_finite_values_are_written_as_hpo_reads_them(self):
        line = self.lines(1, loss=float("nan"), up=float("inf"), down=float("-inf"))
        self.assertEqual(line, 'hpo-metric {"step": 1, "loss": NaN, "up": Infinity, '
                               '"down": -Infinity}\n')

    def test_refuses_what_hpo_would_not_read(self):
        with self.assertRaisesRegex(ValueError, "at least one metric"):
            hpo.report(3)
        with self.assertRaisesRegex(ValueError, "non-negative integer, got -1"):
            hpo.report(-1, loss=1.0)
        with self.assertRaisesRegex(ValueError, "non-negative integer, got 1.5"):
            hpo.report(1.5, loss=1.0)
        with self.assertRaisesRegex(TypeError, "metric 'loss': expected a number, got str"):
            hpo.report(1, loss="low")
        with self.assertRaisesRegex(TypeError, "metric 'ok': expected a number, got bool"):
            hpo.report(1, ok=True)


class TrialDirTest(unittest.TestCase):
    def test_hpo_trial_dir_or_one_temporary_directory(self):
        with mock.patch.dict(os.environ, {"HPO_TRIAL_DIR": "/shared/s/3", "HPO_TRIAL_NUMBER": "3"}):
            self.assertEqual(hpo.trial_dir(), "/shared/s/3")
            self.assertEqual(hpo.trial_number(), 3)
        with mock.patch.dict(os.environ, {}, clear=True):
            first = hpo.trial_dir()
            self.assertTrue(os.path.isdir(first))
            self.assertEqual(hpo.trial_dir(), first)
            self.assertIsNone(hpo.trial_number())


class ShouldStopTest(unittest.TestCase):
    def test_sigterm_is_seen_and_the_script_ends_cleanly(self):
        script = (
            "import sys, time, hpo\n"
            "assert not hpo.should_stop()\n"
            "print('ready', flush=True)\n"
            "deadline = time.monotonic() + 20\n"
            "while not hpo.should_stop():\n"
            "    if time.monotonic() > deadline: sys.exit(3)\n"
            "    time.sleep(0.01)\n"
            "hpo.report(5, loss=0.25, final=True)\n"
            "print('saved', flush=True)\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(hpo.__file__)))
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                 env=env)
        self.assertEqual(child.stdout.readline(), "ready\n")  # the handler is in place
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
        self.assertEqual(child.returncode, 0)
        self.assertEqual(out, 'hpo-metric {"step": 5, "loss": 0.25, "final": true}\nsaved\n')


@unittest.skipUnless(os.environ.get("HPO_BIN"), "HPO_BIN (the hpo CLI) is set by ctest")
class UnderHpoTest(unittest.TestCase):
    """A script written with the helpers, run by `hpo run` on a real worker: what it reports is
    what the study records."""

    def test_reports_become_the_trials_curves_and_results(self):
        import tempfile
        package = os.path.dirname(os.path.dirname(os.path.abspath(hpo.__file__)))
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "train.py")
            with open(script, "w") as f:
                f.write(
                    "import hpo\n"
                    "p = hpo.params(defaults={'x': 0.0, 'epochs': 3})\n"
                    "assert hpo.trial_number() is not None and not hpo.should_stop()\n"
                    "for epoch in range(1, p['epochs'] + 1):\n"
                    "    hpo.report(epoch, loss=(p['x'] - 0.25) ** 2 + 1.0 / epoch)\n")
            study = os.path.join(d, "study.yaml")
            with open(study, "w") as f:
                f.write(
                    "name: py-helper\n"
                    "objective: {metric: loss, direction: minimize}\n"
                    "optimizer: {name: random, seed: 5}\n"
                    "budget: {max_trials: 4, max_parallel: 2}\n"
                    "space:\n"
                    "  x: {type: float, low: 0, high: 1}\n"
                    f"task: {{command: [{sys.executable!r}, {script!r}], "
                    f"env: {{PYTHONPATH: {package!r}}}}}\n")
            db = os.path.join(d, "h.db")
            run = subprocess.run([os.environ["HPO_BIN"], "run", study, "--workers", "2", "--db", db],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            listed = subprocess.run([os.environ["HPO_BIN"], "--db", db, "trials", "py-helper",
                                     "--format", "json"],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(listed.returncode, 0, listed.stderr)
            trials = json.loads(listed.stdout)
            self.assertEqual(len(trials), 4)
            for t in trials:
                self.assertEqual(t["state"], "COMPLETED")
                x = t["params"]["x"]
                self.assertAlmostEqual(t["value"], (x - 0.25) ** 2 + 1.0 / 3, places=12)


if __name__ == "__main__":
    unittest.main()
