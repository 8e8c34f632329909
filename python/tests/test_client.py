"""hpo.Client against a real hpo-coordinator and hpo-worker (run by ctest with /usr/bin/python3)."""
import os
import subprocess
import tempfile
import time
import unittest

import hpo

STUDY = """
name: py-client
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 2}
budget: {max_trials: 6, max_parallel: 2}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin}
"""


@unittest.skipUnless(os.environ.get("HPO_BIN") and os.environ.get("HPO_COORDINATOR_BIN"),
                     "HPO_BIN and HPO_COORDINATOR_BIN are set by ctest")
class ClientTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.processes = []
        coordinator = subprocess.Popen(
            [os.environ["HPO_COORDINATOR_BIN"], "--listen", "127.0.0.1:0", "--db",
             os.path.join(self.dir.name, "c.db")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.processes.append(coordinator)
        line = coordinator.stdout.readline()
        self.assertTrue(line.startswith("listening on port "), line)
        self.address = f"127.0.0.1:{int(line.split()[-1])}"

    def tearDown(self):
        for p in reversed(self.processes):
            p.terminate()
            p.wait(timeout=30)
            if p.stdout:
                p.stdout.close()
        self.dir.cleanup()

    def hpo_cli(self, *args):
        run = subprocess.run([os.environ["HPO_BIN"], "--coordinator", self.address, *args],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_studies_trials_best_enqueue_stop(self):
        path = os.path.join(self.dir.name, "s.yaml")
        with open(path, "w") as f:
            f.write(STUDY)
        self.hpo_cli("study", "create", "-f", path)
        with hpo.Client(self.address) as client:
            names = [s["spec"]["name"] for s in client.studies()]
            self.assertEqual(names, ["py-client"])
            study = client.study("py-client")
            self.assertIsNone(study.best())
            # Typed by the study's space: the ints 1 and 2 become floats.
            queued = study.enqueue({"x1": 1, "x2": 2})
            self.assertEqual(queued["params"], {"x1": 1.0, "x2": 2.0})
            self.assertEqual(queued["state"], "PENDING")
            with self.assertRaises(hpo.HpoError) as refused:
                study.enqueue({"x1": 100.0, "x2": 2.0})
            self.assertEqual(refused.exception.code, "INVALID_ARGUMENT")
            self.assertIn("x1", refused.exception.message)

            worker = subprocess.Popen(
                [os.path.join(os.path.dirname(os.environ["HPO_BIN"]), "hpo-worker"),
                 "--coordinator", self.address, "--slots", "2",
                 "--log-dir", os.path.join(self.dir.name, "logs"),
                 "--trial-dir-root", os.path.join(self.dir.name, "trials")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.processes.append(worker)
            deadline = time.monotonic() + 120
            while study.info()["state"] != "STUDY_COMPLETED":
                self.assertLess(time.monotonic(), deadline, study.info())
                time.sleep(0.05)

            trials = study.trials()
            self.assertEqual([t["number"] for t in trials], [0, 1, 2, 3, 4, 5])
            self.assertEqual({t["state"] for t in trials}, {"COMPLETED"})
            self.assertEqual(trials[0]["params"], {"x1": 1.0, "x2": 2.0})
            self.assertEqual(len(study.trials(state="COMPLETED")), 6)
            self.assertEqual(study.trials(state="FAILED"), [])
            best = study.best()
            self.assertEqual(best["value"], min(t["value"] for t in trials))
            self.assertEqual(best["final_metrics"]["value"], best["value"])
            with self.assertRaisesRegex(ValueError, "unknown trial state 'DONE'"):
                study.trials(state="DONE")
            with self.assertRaises(hpo.HpoError) as ended:
                study.stop()
            self.assertEqual(ended.exception.code, "FAILED_PRECONDITION")
            with self.assertRaises(hpo.HpoError) as missing:
                client.study("nope")
            self.assertEqual(missing.exception.code, "NOT_FOUND")
            try:
                import pandas  # noqa: F401
            except ImportError:
                return
            frame = trials.to_pandas()
            self.assertEqual(list(frame["number"]), [0, 1, 2, 3, 4, 5])

    def test_ask_and_tell_run_a_study_from_a_python_loop(self):
        path = os.path.join(self.dir.name, "s.yaml")
        with open(path, "w") as f:
            f.write(STUDY.replace("max_trials: 6", "max_trials: 4").replace("random", "tpe"))
        self.hpo_cli("study", "create", "-f", path)

        def branin(x1, x2):
            import math
            return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2
                    + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)

        with hpo.Client(self.address) as client:
            study = client.study("py-client")
            a, b = study.ask(), study.ask(client_id="nb")
            self.assertEqual((a["worker_id"], b["worker_id"]), ("ask:python", "ask:nb"))
            self.assertEqual(a["state"], "RUNNING")
            with self.assertRaises(hpo.HpoError) as full:
                study.ask()
            self.assertEqual(full.exception.code, "RESOURCE_EXHAUSTED")
            told = study.tell(a, value=branin(**a["params"]), metrics={"loss": 1.5})
            self.assertEqual(told["state"], "COMPLETED")
            self.assertEqual(told["value"], branin(**a["params"]))
            self.assertEqual(told["final_metrics"]["loss"], 1.5)
            self.assertEqual(study.tell(a, value=told["value"])["id"], a["id"])  # a repeat
            study.tell(b, state="FAILED", reason="diverged")
            with self.assertRaisesRegex(ValueError, "needs its objective 'value'"):
                study.tell(b)
            for _ in range(2):
                t = study.ask()
                study.tell(t, value=branin(**t["params"]))
            with self.assertRaises(hpo.HpoError) as ended:
                study.ask()
            self.assertEqual(ended.exception.code, "FAILED_PRECONDITION")
            info = study.info()
            self.assertEqual(info["state"], "STUDY_COMPLETED")
            self.assertEqual(info["counts"]["completed"], 3)
            self.assertEqual(info["counts"]["failed"], 1)
            self.assertEqual(study.trials(state="FAILED")[0]["failure_reason"], "diverged")

            # An ended study goes on, takes a result known from elsewhere, and is deleted.
            self.assertEqual(study.extend(5)["state"], "STUDY_RUNNING")
            added = study.add_trial({"x1": 1, "x2": 2}, value=3.5, metrics={"loss": 2})
            self.assertEqual((added["number"], added["state"], added["value"]), (4, "COMPLETED", 3.5))
            self.assertEqual(added["final_metrics"], {"loss": 2.0, "value": 3.5})
            self.assertEqual(study.info()["state"], "STUDY_COMPLETED")
            with self.assertRaises(hpo.HpoError) as small:
                study.extend(5)
            self.assertEqual(small.exception.code, "INVALID_ARGUMENT")
            self.assertEqual(client.delete_study("py-client"), 5)
            self.assertEqual(client.studies(), [])


class ParamTypingTest(unittest.TestCase):
    def test_values_take_the_kind_their_domain_declares(self):
        from hpo import client
        from hpo.v1 import hpo_pb2

        space = hpo_pb2.SearchSpace()
        space.params.add(name="lr").float_domain.high = 1
        space.params.add(name="width").int_domain.high = 512
        k = space.params.add(name="k")
        k.categorical.choices.add(string_value="a")
        k.categorical.choices.add(int_value=3)
        spec = {p.name: p for p in space.params}
        out = hpo_pb2.ParamMap()
        for name, value in {"lr": 1, "width": 64.0, "k": 3, "other": "x"}.items():
            client._set_param(out.values[name], spec.get(name), name, value)
        self.assertEqual(client._to_python(out), {"k": 3, "lr": 1.0, "other": "x", "width": 64})
        self.assertEqual(out.values["lr"].WhichOneof("kind"), "float_value")
        self.assertEqual(out.values["width"].WhichOneof("kind"), "int_value")
        with self.assertRaisesRegex(ValueError, r"k: 'c' is not one of the choices \['a', 3\]"):
            client._set_param(out.values["k"], spec["k"], "k", "c")
        with self.assertRaisesRegex(ValueError, "width: expected an integer, got 1.5"):
            client._set_param(out.values["width"], spec["width"], "width", 1.5)
        with self.assertRaisesRegex(TypeError, "x: a parameter is a number, a string or a bool"):
            client._set_param(out.values["x"], None, "x", [1])


if __name__ == "__main__":
    unittest.main()
