"""Schemathesis hooks for `.ci/schemathesis`, which runs it against the bookstore_api example.

Generated bodies get events of the example's catalogue and a target the API accepts, so that
subscriptions succeed and the stateful phase works on real hooks. Every failure is kept but three
kinds, where the API answers as its description says for what a schema cannot say.
"""

import json

import schemathesis

# The events of the example's catalogue (`GET /events`).
EVENTS = ["book.added", "book.changed", "book.read", "book.removed", "user.logged_in"]

# A target the SSRF guard lets through (the example allows 127.0.0.1), on another port than the
# API's: a hook's `target` in the API's own origin would be taken for a link to one of its paths.
# Nothing listens there, so test deliveries fail to connect, at once.
TARGET = "http://127.0.0.1:9/hook"


@schemathesis.hook
def map_body(context, body):
    """A body's events and targets given as text become real ones; nothing else changes, so
    that a schema-invalid body stays invalid."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if isinstance(body.get("event"), str):
        body["event"] = EVENTS[len(body["event"]) % len(EVENTS)]
    for field in ("target", "target_url"):
        if isinstance(body.get(field), str):
            body[field] = TARGET
    return body


def message(response):
    """The `message` of the API's error body, or ''."""
    try:
        return str(json.loads(response.content).get("message", ""))
    except (ValueError, AttributeError):
        return ""


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """False for the failures that are not the API's: it answers there as documented."""
    kind, status, said = type(failure).__name__, response.status_code, message(response)
    # A replay range must end after it starts (`422` naming `to`): JSON Schema cannot compare
    # two fields.
    if kind == "RejectedPositiveData" and status == 422 and said == "`to` must come after `from`":
        return False
    # A target that is no absolute http(s) URL, that the SSRF guard refuses, or whose host does not
    # resolve (`422` naming `target`): the examples and coverage phases send their targets as they
    # are (the description's example https://example.com/…, where the runner cannot resolve it; `""`).
    # A schema cannot say which URLs lead where the server sends.
    if kind == "RejectedPositiveData" and status == 422 and said.startswith("target `") and " is not accepted: " in said:
        return False
    # A replay of a `delivery` the hook does not have answers 404; the hook is there. The check
    # takes any 404 after a subscription for the hook missing: it does not look at the body.
    if kind == "EnsureResourceAvailability" and status == 404 and " has no delivery `" in said:
        return False
    return True
