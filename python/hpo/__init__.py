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
"""
from hpo.trial import params, report, should_stop, trial_dir, trial_number

__all__ = ["params", "report", "should_stop", "trial_dir", "trial_number"]
