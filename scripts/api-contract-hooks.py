"""schemathesis hooks for scripts/api-contract.sh.

Two checks of our own, run beside every built-in one:

- `created_resource_has_location`: every 201 carries a `Location` that
  names a path of the published document, so a client (and the stateful
  phase) can follow what was created.
- `tenant_isolation`: every operation that names an object of a project is
  replayed with one tenant's object ids under the other tenant's project,
  with that other tenant's credentials (and under the owning tenant's
  project, which the other is no member of); the answer must be the 404 a
  missing object gets (the same status and problem code as the same
  request naming ids that exist nowhere) and must not quote the owning
  tenant. Operations it never managed to try fail the run at the end.

And one hook that drops two kinds of failure, each only for a reason
stated below. "Created resource not found" (ST302) when the 404 names
another object than the one created (a made-up id in the body of the
request that followed the creation). "A schema-valid request was
rejected" (ST202, positive_data_acceptance) where the server's
reason is something a JSON Schema cannot state, because it depends on the
server's state or on the bytes inside a binary body. Each such reason is a
problem `code` listed below; a rejection for any other reason (a constraint
the document lacks, a status it does not declare, ...) still fails the run.
Every other check is left alone.
"""

import json
import os
import re
import threading
import uuid
from urllib.parse import urljoin, urlsplit

import requests
import schemathesis

# Well-formed, but not valid here and now: it names something that does
# not exist, or must agree with the clock or with another part of the
# request.
STATE_DEPENDENT_CODES = {
    # A cursor is opaque: only one the server issued names a position.
    "pagination.invalid_cursor",
    # Only a refresh token the server issued, and still live, is a grant
    # (RFC 6749 5.2 answers every other one 400 `invalid_grant`).
    "auth.invalid_grant",
    # Members are added by the email of an existing, enabled account.
    "membership.unknown_user",
    "membership.user_disabled",
    # An API key expires in the future, within `api_key_max_days` of now.
    "api_key.invalid_expiry",
    # A build's optional `project_id` must be the project in its path.
    "project.context_mismatch",
    # An Idempotency-Key already used for a different request.
    "idempotency.key_reused",
    # A failure group's assignee must be a member of the project.
    "group.assignee_not_member",
    # A classification rule's pattern must compile as a regular expression
    # (within the size limit): a grammar no schema states.
    "classification_rule.invalid_pattern",
    # Dashboard filters that disagree with each other: `from` after `to`,
    # a range over a year, or `period` together with `from`/`to`.
    "filter.inconsistent_range",
    # A quality gate rule's threshold must suit its kind (a whole count, a
    # percentage, or none): the kind is another field of the request.
    "quality_gate_rule.invalid_threshold",
    # A Slack connection takes a webhook URL, or a bot token and a channel.
    "connection.invalid_combination",
    # Whether a URL's host resolves to public addresses only is a fact of
    # DNS at the time of the call, not of the document.
    "connection.url_refused",
}

# The same, for a field of a request refused with the generic
# `request.invalid_body`: (field, message).
STATE_DEPENDENT_FIELD_ERRORS = {
    # A regroup's `since` is a moment that has already come: it depends
    # on the clock at the time of the call.
    ("since", "must not be in the future"),
}

# A JUnit XML report, gzip or zip body is `format: binary`, and any body
# sent with `Content-Encoding: gzip` is compressed bytes: whether they are
# a well-formed report (or archive of reports) is not a schema question.
BINARY_CONTENT_CODES_PREFIXES = ("junit.",)
BINARY_CONTENT_CODES = {"upload.undecodable", "upload.bad_archive"}
BINARY_MEDIA_TYPES = {"application/xml", "application/gzip", "application/zip"}


def problem_code(response):
    try:
        return json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        return None


def field_errors(response):
    try:
        errors = json.loads(response.content).get("errors") or []
        return {(error.get("field"), error.get("message")) for error in errors}
    except (ValueError, AttributeError, TypeError):
        return set()


def _resource_of(label):
    """`project` for `POST /api/v1/projects`: the resource an operation's path names last."""
    path = label.split(" ", 1)[-1].rstrip("/")
    segment = next((s for s in reversed(path.split("/")) if s and not s.startswith("{")), "")
    return segment.removesuffix("s").replace("-", "_")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code == "ST302":
        # "Created resource not found": kept when the 404 is about what was
        # created (`project.not_found` after creating a project); dropped
        # when it names another object of the request, like a rule's
        # made-up `connection_id` in a project created a step before.
        code = problem_code(response) or ""
        return not code.endswith(".not_found") or code.startswith(_resource_of(failure.created_with) + ".")
    if failure.code != "ST202":
        return True
    code = problem_code(response)
    if code in STATE_DEPENDENT_CODES:
        return False
    if code == "request.invalid_body" and (errors := field_errors(response)) and errors <= STATE_DEPENDENT_FIELD_ERRORS:
        return False
    if is_binary(case) and (
        code in BINARY_CONTENT_CODES or (code or "").startswith(BINARY_CONTENT_CODES_PREFIXES)
    ):
        return False
    return True


def is_binary(case):
    encoding = {k.lower(): v for k, v in (case.headers or {}).items()}.get("content-encoding", "")
    return case.media_type in BINARY_MEDIA_TYPES or str(encoding).strip().lower() in ("gzip", "x-gzip")


# --- 201 answers name what they created -----------------------------------


def _path_pattern(template):
    parts = re.split(r"\{[^}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


@schemathesis.check
def created_resource_has_location(ctx, response, case):
    """A 201 says where the new resource lives, at a path the document publishes."""
    if response.status_code != 201:
        return
    location = (response.headers.get("location") or [None])[0]
    if not location:
        raise AssertionError(f"{case.method} {case.formatted_path} answered 201 without a Location")
    resolved = urlsplit(urljoin(response.request.url, location))
    if resolved.netloc != urlsplit(response.request.url).netloc:
        # Something made elsewhere (an issue in a tracker).
        return
    target = resolved.path
    documented = [path for path, _ in case.operation.schema.raw_schema.get("paths", {}).items()]
    if not any(_path_pattern(path).match(target) for path in documented):
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered 201 with Location {location!r}, "
            f"which resolves to {target}, a path the document does not publish"
        )


# --- one tenant's objects under the other's project ------------------------

GATEWAY = os.environ.get("FAULTLINE_CONTRACT_GATEWAY", "")
PROJECT_PARAMETERS = {"project", "project_ref"}
# A validation answer says nothing about whether the object was looked up.
BEFORE_LOOKUP = {400, 413, 415, 422}
# Attempts per operation to get a replay past validation.
MAX_ATTEMPTS = 12

# Bodies for operations whose generated bodies hardly ever pass
# validation (a JUnit report is bytes no schema describes), used when the
# generated one does not.
VALID_BODIES = {
    "POST /api/v1/projects/{project}/builds/{build}/results": (
        "application/xml",
        b'<testsuite name="isolation" tests="1"><testcase classname="isolation" name="probe"/></testsuite>',
    ),
    "PATCH /api/v2/projects/{project}/failures/{group}": ("application/json", b'{"status": "triaged"}'),
}


def _load_tenants():
    paths = [p for p in os.environ.get("FAULTLINE_CONTRACT_TENANTS", "").split(os.pathsep) if p]
    tenants = []
    for path in paths:
        with open(path) as source:
            tenants.append(json.load(source))
    return tenants


TENANTS = _load_tenants()


def _object_parameters(template):
    """(`segment/{name}`, name) for each path parameter naming an object of a project."""
    found = re.findall(r"([^/{}]+)/\{([^}]+)\}", template)
    return [(f"{segment}/{{{name}}}", name) for segment, name in found if name not in PROJECT_PARAMETERS]


def _problem(response):
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


@schemathesis.check
class tenant_isolation:
    """One tenant's objects are missing for the other, in the other's own project."""

    def __init__(self):
        self.lock = threading.Lock()
        self.session = requests.Session()
        self.proven = set()
        self.attempts = {}
        self.candidates = set()

    def _send(self, case, tenant, parameters, body=None):
        derived = case.derive()
        derived.path_parameters = {**case.path_parameters, **parameters}
        kwargs = derived.as_transport_kwargs(base_url=GATEWAY)
        headers = {k: v for k, v in (kwargs.pop("headers", None) or {}).items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {tenant['token']}"
        if body is not None:
            for key in ("json", "data", "files"):
                kwargs.pop(key, None)
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-encoding", "content-length")}
            headers["Content-Type"], kwargs["data"] = body
        kwargs.pop("cookies", None)
        return self.session.request(headers=headers, allow_redirects=False, timeout=30, **kwargs), derived

    def after_response(self, ctx, response, case):
        template = case.operation.path
        label = f"{case.method} {template}"
        objects = _object_parameters(template)
        # Methods the document does not name are the gateway's 405 alike.
        if len(TENANTS) < 2 or not objects or "{project" not in template or case.method != case.operation.method.upper():
            return
        with self.lock:
            self.candidates.add(label)
            if label in self.proven or self.attempts.get(label, 0) >= MAX_ATTEMPTS:
                return
            self.attempts[label] = self.attempts.get(label, 0) + 1
        conclusive = True
        for owner, intruder in ((TENANTS[0], TENANTS[1]), (TENANTS[1], TENANTS[0])):
            own_project = {name: intruder["objects"]["projects/{project}"] for name in PROJECT_PARAMETERS}
            missing = {name: str(uuid.uuid4()) for _, name in objects}
            body = None
            control, _ = self._send(case, intruder, {**own_project, **missing})
            if control.status_code in BEFORE_LOOKUP and label in VALID_BODIES:
                body = VALID_BODIES[label]
                control, _ = self._send(case, intruder, {**own_project, **missing}, body)
            if control.status_code in BEFORE_LOOKUP:
                conclusive = False
                continue
            # Every object the owner's, then (where there are several) only the last one.
            variants = [{name: owner["objects"][key] for key, name in objects}]
            if len(objects) > 1:
                variants.append(
                    {
                        **{name: intruder["objects"][key] for key, name in objects[:-1]},
                        objects[-1][1]: owner["objects"][objects[-1][0]],
                    }
                )
            # And the owner's objects under the owner's project, which the
            # intruder is no member of: the gateway's 404 for the project.
            owner_project = {name: owner["objects"]["projects/{project}"] for name in PROJECT_PARAMETERS}
            outside, _ = self._send(case, intruder, {**owner_project, **missing}, body)
            attempts = [(own_project, foreign, control) for foreign in variants]
            attempts.append((owner_project, variants[0], outside))
            for project, foreign, control in attempts:
                probe, sent = self._send(case, intruder, {**project, **foreign}, body)
                leaked = owner["marker"] in probe.text
                same = probe.status_code == control.status_code and _problem(probe) == _problem(control)
                if leaked or not same or (control.status_code != 404 and not 200 <= control.status_code < 300):
                    raise AssertionError(
                        f"{intruder['name']} reached {owner['name']}'s object: "
                        f"{sent.method} {sent.formatted_path} as {intruder['name']} -> {probe.status_code} "
                        f"{_problem(probe)!r}{' quoting ' + owner['name'] if leaked else ''}, "
                        f"where ids that exist nowhere get {control.status_code} {_problem(control)!r}"
                    )
        if conclusive:
            with self.lock:
                self.proven.add(label)

    def after_run(self, ctx):
        untried = sorted(self.candidates - self.proven)
        if untried:
            raise AssertionError(
                "tenant isolation was never tried past request validation on: " + ", ".join(untried)
            )
