"""What a trial process needs: its parameters, a way to report, and the worker's stop request.

The worker gives a trial its parameters as JSON in HPO_PARAMS, its number in HPO_TRIAL_NUMBER and
a directory kept across retries in HPO_TRIAL_DIR, reads `hpo-metric {...}` lines from its stdout,
and asks it to end with SIGTERM (then SIGKILL after a grace period). Standard library only.
"""
import json
import numbers
import os
import signal
import sys
import tempfile
import threading

__all__ = ["params", "report", "should_stop", "trial_dir", "trial_number"]

_PREFIX = "hpo-metric"
_RESERVED = ("step", "final")

_stop = threading.Event()
_handler_lock = threading.Lock()
_handler_installed = False
_local_dir = None


def _typed(name, text, default):
    """`text` (from argv) as the type of `default`."""
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"--{name}: expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"--{name}: expected an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--{name}: expected a number, got {text!r}") from None
    return text


def _from_argv(defaults, argv):
    """`--name value` and `--name=value` for the names in `defaults`; other arguments are left."""
    out = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--"):
            continue
        name, eq, value = arg[2:].partition("=")
        if name not in defaults:
            continue
        if not eq:
            if i >= len(argv):
                raise ValueError(f"--{name}: missing its value")
            value = argv[i]
            i += 1
        out[name] = _typed(name, value, defaults[name])
    return out


def params(defaults=None, argv=None):
    """The trial's parameters as a dict of typed values (float, int, str, bool).

    Under hpo they come from HPO_PARAMS; `defaults` fills in any it does not carry (a
    conditional parameter that is inactive). Outside hpo they are `defaults` overridden by
    `--name value` arguments (from `argv`, default sys.argv[1:]), each converted to its default's
    type. A malformed HPO_PARAMS raises ValueError naming it.
    """
    defaults = dict(defaults or {})
    raw = os.environ.get("HPO_PARAMS")
    if raw is None:
        result = dict(defaults)
        result.update(_from_argv(defaults, sys.argv[1:] if argv is None else list(argv)))
        return result
    try:
        given = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"HPO_PARAMS is not JSON: {e}") from None
    if not isinstance(given, dict):
        raise ValueError("HPO_PARAMS is not a JSON object")
    result = dict(defaults)
    result.update(given)
    return result


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {name!r}: expected a number, got {type(value).__name__}")
    return float(value) if not isinstance(value, int) else value


def report(step=None, /, *, final=False, **metrics):
    """Prints one metric line, `hpo-metric {"step": ..., "name": value, ...}`, and flushes.

    `step` is a non-negative integer (an epoch, an iteration) or None. `final=True` marks the
    trial's result (otherwise the last reported objective value is). NaN and infinities are
    written as NaN, Infinity and -Infinity, which hpo reads.
    """
    if not metrics:
        raise ValueError("report: give at least one metric, e.g. report(3, loss=0.5)")
    line = {}
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"report: step must be a non-negative integer, got {step!r}")
        line["step"] = int(step)
    for name, value in metrics.items():
        line[name] = _number(name, value)
    if final:
        line["final"] = True
    text = json.dumps(line, allow_nan=True, separators=(", ", ": "))
    sys.stdout.write(f"{_PREFIX} {text}\n")
    sys.stdout.flush()


def _on_sigterm(signum, frame):
    _stop.set()


def should_stop():
    """True once the worker has asked this trial to end (SIGTERM): save what is needed, exit.

    The first call installs a SIGTERM handler (from the main thread; elsewhere it cannot, and a
    SIGTERM then ends the process as usual), so call it early, e.g. once before training.
    """
    global _handler_installed
    with _handler_lock:
        if not _handler_installed:
            _handler_installed = True
            try:
                signal.signal(signal.SIGTERM, _on_sigterm)
            except ValueError:  # not the main thread
                pass
    return _stop.is_set()


def trial_dir():
    """A directory for this trial's checkpoints, the same for every attempt of its number.

    Under hpo it is HPO_TRIAL_DIR. Outside hpo (or when the worker keeps no trial directories)
    it is a new temporary directory, one per process: checkpoint code works, nothing resumes.
    """
    global _local_dir
    path = os.environ.get("HPO_TRIAL_DIR")
    if path:
        return path
    if _local_dir is None:
        _local_dir = tempfile.mkdtemp(prefix="hpo-trial-")
    return _local_dir


def trial_number():
    """The trial's number in its study (from 0), or None outside hpo."""
    raw = os.environ.get("HPO_TRIAL_NUMBER")
    return int(raw) if raw is not None else None
