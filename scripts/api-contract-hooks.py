"""schemathesis hooks for scripts/api-contract.sh.

One hook, and it only ever drops one kind of failure: "a schema-valid
request was rejected" (ST202, positive_data_acceptance) where the server's
reason is something a JSON Schema cannot state, because it depends on the
server's state or on the bytes inside a binary body. Each such reason is a
problem `code` listed below; a rejection for any other reason (a constraint
the document lacks, a status it does not declare, ...) still fails the run.
Every other check is left alone.
"""

import json

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


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    code = problem_code(response)
    if code in STATE_DEPENDENT_CODES:
        return False
    if is_binary(case) and (
        code in BINARY_CONTENT_CODES or (code or "").startswith(BINARY_CONTENT_CODES_PREFIXES)
    ):
        return False
    return True


def is_binary(case):
    encoding = {k.lower(): v for k, v in (case.headers or {}).items()}.get("content-encoding", "")
    return case.media_type in BINARY_MEDIA_TYPES or str(encoding).strip().lower() in ("gzip", "x-gzip")
