#!/usr/bin/python3
"""Optuna as an external optimizer for `hpo bench`, spoken to in JSON lines on stdin/stdout.

Run with Debian's python3 (python3-optuna). The first line it writes says whether Optuna is there:
    {"ready": true, "optuna": "3.1.0"}        or   {"error": "optuna is not importable: ..."}
Then, one reply line per request line:
    {"cmd": "init", "space": [PARAM, ...], "sampler": "tpe"|"random", "seed": N}  -> {"ok": true}
    {"cmd": "ask"}                                                    -> {"params": {NAME: VALUE}}
    {"cmd": "tell", "value": V}   (V null = the trial failed)         -> {"ok": true}
Any request that fails is answered {"error": "..."}; end of input ends the process.

PARAM is {"name", "type": "float"|"int"|"categorical", "low", "high", "log", "step", "n",
"condition": {"parent", "values"}}. Categorical parameters are sampled as choice indices
0..n-1 (Optuna's categorical distribution is index-based anyway) and a condition on a
categorical parent lists indices, so the caller maps indices back to its own values. A
conditional parameter is suggested only when its parent is active and has one of the values:
Optuna's define-by-run trials take care of the rest.
"""
import json
import sys


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def active(param, values):
    cond = param.get("condition")
    if not cond:
        return True
    parent = cond["parent"]
    return parent in values and values[parent] in cond["values"]


def suggest(trial, param):
    kind = param["type"]
    name = param["name"]
    if kind == "float":
        step = param.get("step") or None
        return trial.suggest_float(name, param["low"], param["high"], log=bool(param.get("log")),
                                   step=step)
    if kind == "int":
        step = int(param.get("step") or 1)
        return trial.suggest_int(name, int(param["low"]), int(param["high"]), step=step,
                                 log=bool(param.get("log")))
    if kind == "categorical":
        return trial.suggest_categorical(name, list(range(int(param["n"]))))
    raise ValueError("unknown parameter type %r" % kind)


class Session:
    def __init__(self, optuna):
        self.optuna = optuna
        self.study = None
        self.space = None
        self.trial = None

    def init(self, req):
        samplers = self.optuna.samplers
        seed = int(req.get("seed", 0))
        name = req.get("sampler", "tpe")
        if name == "tpe":
            sampler = samplers.TPESampler(seed=seed)
        elif name == "random":
            sampler = samplers.RandomSampler(seed=seed)
        else:
            raise ValueError("unknown sampler %r (known: tpe, random)" % name)
        self.study = self.optuna.create_study(direction="minimize", sampler=sampler)
        self.space = req["space"]
        return {"ok": True}

    def ask(self, _req):
        if self.study is None:
            raise ValueError("ask before init")
        if self.trial is not None:
            raise ValueError("ask before the last trial was told")
        trial = self.study.ask()
        values = {}
        for param in self.space:
            if active(param, values):
                values[param["name"]] = suggest(trial, param)
        self.trial = trial
        return {"params": values}

    def tell(self, req):
        if self.trial is None:
            raise ValueError("tell without an asked trial")
        value = req.get("value")
        if value is None:
            self.study.tell(self.trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(self.trial, float(value))
        self.trial = None
        return {"ok": True}


def main():
    try:
        import optuna
    except Exception as e:  # ImportError, or a broken install
        reply({"error": "optuna is not importable by %s: %s" % (sys.executable, e)})
        return 3
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    reply({"ready": True, "optuna": optuna.__version__})
    session = Session(optuna)
    handlers = {"init": session.init, "ask": session.ask, "tell": session.tell}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            handler = handlers.get(req.get("cmd"))
            if handler is None:
                raise ValueError("unknown cmd %r" % req.get("cmd"))
            reply(handler(req))
        except Exception as e:
            reply({"error": "%s: %s" % (type(e).__name__, e)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
