"""Talking to a coordinator from Python: hpo.Client (Debian: python3-grpcio, python3-protobuf).

    import hpo
    with hpo.Client("127.0.0.1:50051", token=...) as c:    # or $HPO_TOKEN, $HPO_TLS_CA
        for s in c.studies():
            print(s["spec"]["name"], s["state"])
        study = c.study("mnist")
        rows = study.trials(state="COMPLETED")    # a list of dicts; .to_pandas() with pandas
        print(study.best()["value"])
        study.enqueue({"lr": 0.01, "width": 128})
        trial = study.ask()                       # or run your own loop: ask, evaluate, tell
        study.tell(trial, value=train(**trial["params"]))

Every call that the coordinator refuses raises hpo.HpoError with its code and message.
"""
import os

import grpc

from hpo.v1 import hpo_pb2, hpo_pb2_grpc

__all__ = ["Client", "HpoError", "Study", "TrialList"]


class HpoError(Exception):
    """A call the coordinator refused or could not answer: `code` is gRPC's status name."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _param_value(value):
    kind = value.WhichOneof("kind")
    return getattr(value, kind) if kind else None


def _to_python(message):
    """A message as plain Python: dicts, lists, numbers, strings, enum names; a ParamMap as
    {name: value}. Every scalar field is there (0 and "" included); message fields only when set,
    and a trial's `value` is None when it has none."""
    if isinstance(message, hpo_pb2.ParamMap):
        return {name: _param_value(v) for name, v in sorted(message.values.items())}
    if isinstance(message, hpo_pb2.ParamValue):
        return _param_value(message)
    out = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.label == field.LABEL_REPEATED:
            if not value:
                continue
        elif field.message_type is not None and not message.HasField(field.name):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                out[field.name] = {k: _to_python(v) for k, v in value.items()}
            else:
                out[field.name] = dict(value)
        elif field.label == field.LABEL_REPEATED:
            if field.message_type is not None:
                out[field.name] = [_to_python(v) for v in value]
            else:
                out[field.name] = list(value)
        elif field.message_type is not None:
            out[field.name] = _to_python(value)
        elif field.enum_type is not None:
            out[field.name] = field.enum_type.values_by_number[value].name
        else:
            out[field.name] = value
    if isinstance(message, hpo_pb2.Trial):
        out["value"] = message.value if message.has_value else None
        out.pop("has_value", None)
    return out


class TrialList(list):
    """Trials as dicts (what hpo_pb2.Trial holds, params as {name: value})."""

    def to_pandas(self):
        """One row per trial: id, number, attempt, state, value, a column per parameter, and the
        final metrics as `metric.NAME`. Needs pandas (Debian: python3-pandas)."""
        import pandas

        rows = []
        for t in self:
            row = {k: t.get(k) for k in ("id", "number", "attempt", "state", "value")}
            row.update(t.get("params", {}))
            row.update({f"metric.{k}": v for k, v in t.get("final_metrics", {}).items()})
            rows.append(row)
        return pandas.DataFrame(rows)


class Client:
    """A connection to a coordinator. Thread-safe (a gRPC channel is)."""

    def __init__(self, address="127.0.0.1:50051", token=None, tls_ca=None, timeout_s=30.0):
        """`token` (default $HPO_TOKEN) is sent as a bearer token; `tls_ca` (default
        $HPO_TLS_CA), a PEM file, turns on TLS and verifies the coordinator against it."""
        token = token if token is not None else os.environ.get("HPO_TOKEN")
        tls_ca = tls_ca if tls_ca is not None else os.environ.get("HPO_TLS_CA")
        if tls_ca:
            with open(tls_ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(address, credentials)
        else:
            self._channel = grpc.insecure_channel(address)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout_s
        self._stub = hpo_pb2_grpc.StudyServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return getattr(self._stub, method)(request, metadata=self._metadata,
                                               timeout=self._timeout_s)
        except grpc.RpcError as e:
            raise HpoError(e.code().name, e.details()) from None

    def studies(self):
        """Every study, as dicts (spec, state, counts, best_trial, ...)."""
        return [_to_python(s) for s in self._call("ListStudies", hpo_pb2.ListStudiesRequest())
                .studies]

    def study(self, name):
        """A handle on one study; NOT_FOUND (HpoError) when there is none by that name."""
        return Study(self, self._call("GetStudy", hpo_pb2.GetStudyRequest(name=name)))

    def delete_study(self, name):
        """Deletes an ended study with its trials and curves; returns how many trials went.
        FAILED_PRECONDITION while it runs or a trial of it is still running."""
        return self._call("DeleteStudy", hpo_pb2.DeleteStudyRequest(name=name)).trials_deleted


class Study:
    """One study of a Client."""

    def __init__(self, client, proto):
        self._client = client
        self._proto = proto
        self.name = proto.spec.name

    def info(self):
        """The study now: spec, state, counts, best trial, workers that accept it, ..."""
        self._proto = self._client._call("GetStudy", hpo_pb2.GetStudyRequest(name=self.name))
        return _to_python(self._proto)

    def trials(self, state=None):
        """Every trial (each attempt), in id order; `state` ("COMPLETED", ...) filters."""
        request = hpo_pb2.ListTrialsRequest(study_name=self.name)
        if state is not None:
            try:
                request.state = hpo_pb2.TrialState.Value(state)
            except ValueError:
                raise ValueError(f"state: unknown trial state {state!r} (known: "
                                 f"{', '.join(hpo_pb2.TrialState.keys()[1:])})") from None
        out = TrialList()
        while True:
            page = self._client._call("ListTrials", request)
            out.extend(_to_python(t) for t in page.trials)
            if not page.next_page_token:
                return out
            request.page_token = page.next_page_token

    def best(self):
        """The best completed trial as a dict, or None while there is none."""
        try:
            return _to_python(self._client._call(
                "GetBestTrial", hpo_pb2.GetBestTrialRequest(study_name=self.name)))
        except HpoError as e:
            if e.code == "NOT_FOUND":
                return None
            raise

    def enqueue(self, params):
        """Queues a trial with these parameters ({name: value}, typed by the study's space)."""
        request = hpo_pb2.EnqueueTrialRequest(study_name=self.name)
        domains = {p.name: p for p in self._proto.spec.space.params}
        for name, value in params.items():
            _set_param(request.params.values[name], domains.get(name), name, value)
        return _to_python(self._client._call("EnqueueTrial", request))

    def ask(self, client_id="python", lease_s=0):
        """Leases the study's next trial (a queued one first, else the optimizer's suggestion) to
        this client and returns it as a dict: run it with trial["params"], then tell() its
        result. Not told within `lease_s` seconds (0: an hour), it becomes LOST. Raises HpoError
        RESOURCE_EXHAUSTED while max_parallel asked trials are untold, FAILED_PRECONDITION once
        the study has ended or handed out its budget."""
        return _to_python(self._client._call("AskTrial", hpo_pb2.AskTrialRequest(
            study_name=self.name, client_id=client_id, lease_s=lease_s)))

    def tell(self, trial, value=None, state="COMPLETED", metrics=None, reason=""):
        """Reports an asked trial's result and returns the trial as stored. `value` is the
        objective's metric; `metrics` ({name: number}) adds others. `state` is "COMPLETED",
        "PRUNED" or "FAILED" (with `reason`). Telling the same result twice is harmless."""
        if state not in ("COMPLETED", "PRUNED", "FAILED"):
            raise ValueError(f"state: {state!r} is not COMPLETED, PRUNED or FAILED")
        final = {k: float(v) for k, v in (metrics or {}).items()}
        if value is not None:
            final[self._proto.spec.objective.metric] = float(value)
        if state == "COMPLETED" and self._proto.spec.objective.metric not in final:
            raise ValueError(f"tell: a COMPLETED trial needs its objective "
                             f"'{self._proto.spec.objective.metric}' (value=...)")
        request = hpo_pb2.CompleteTrialRequest(
            worker_id=trial["worker_id"], trial_id=trial["id"],
            request_id=f"tell-{trial['id']}-{trial.get('attempt', 0)}",
            state=hpo_pb2.TrialState.Value(state), failure_reason=reason)
        for k, v in final.items():
            request.final_metrics[k] = v
        return _to_python(self._client._call("TellTrial", request))

    def add_trial(self, params, value, metrics=None):
        """Adds a COMPLETED trial whose result is known from elsewhere (the next number of the
        budget); `value` is the objective's, `metrics` ({name: number}) adds others."""
        request = hpo_pb2.AddTrialRequest(study_name=self.name)
        domains = {p.name: p for p in self._proto.spec.space.params}
        for name, v in params.items():
            _set_param(request.params.values[name], domains.get(name), name, v)
        for k, v in (metrics or {}).items():
            request.final_metrics[k] = float(v)
        request.final_metrics[self._proto.spec.objective.metric] = float(value)
        return _to_python(self._client._call("AddTrial", request))

    def extend(self, max_trials):
        """Raises the budget to `max_trials`; an ended study runs again."""
        self._proto = self._client._call(
            "ExtendStudy", hpo_pb2.ExtendStudyRequest(name=self.name, max_trials=max_trials))
        return _to_python(self._proto)

    def stop(self):
        """Stops the study: pending trials fail, running ones are told to stop."""
        return _to_python(self._client._call("StopStudy",
                                             hpo_pb2.StopStudyRequest(name=self.name)))


def _set_param(out, spec, name, value):
    domain = spec.WhichOneof("domain") if spec is not None else None
    if domain == "float_domain" and isinstance(value, (int, float)) and not isinstance(value, bool):
        out.float_value = float(value)
    elif domain == "int_domain" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != int(value):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
        out.int_value = int(value)
    elif domain == "categorical":
        for choice in spec.categorical.choices:
            if _param_value(choice) == value and type(_param_value(choice)) is type(value):
                out.CopyFrom(choice)
                return
        raise ValueError(f"{name}: {value!r} is not one of the choices "
                         f"{[_param_value(c) for c in spec.categorical.choices]}")
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.float_value = value
    elif isinstance(value, str):
        out.string_value = value
    else:
        raise TypeError(f"{name}: a parameter is a number, a string or a bool, not "
                        f"{type(value).__name__}")
