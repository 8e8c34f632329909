"""hpo's Python package.

Inside a trial (standard library only):

    import hpo
    p = hpo.params(defaults={"lr": 0.1, "width": 64})
    for epoch in range(epochs):
        ...
        hpo.report(epoch + 1, loss=loss, accuracy=acc)
        if hpo.should_stop():      # the worker asked the trial to end (SIGTERM)
            save_checkpoint(hpo.trial_dir())
            break

Run by hand, outside hpo, the same script takes its parameters from `defaults` and `--name value`
arguments, and its reports are printed.

Talking to a coordinator (python3-grpcio): hpo.Client, see hpo/client.py.
"""
from hpo.trial import params, report, should_stop, trial_dir, trial_number

__all__ = ["params", "report", "should_stop", "trial_dir", "trial_number", "Client", "HpoError"]


def __getattr__(name):
    # The client needs grpcio and the generated stubs; a trial script needs neither, so they
    # load only when asked for.
    if name in ("Client", "HpoError", "Study", "TrialList"):
        from hpo import client

        return getattr(client, name)
    raise AttributeError(f"module 'hpo' has no attribute {name!r}")
