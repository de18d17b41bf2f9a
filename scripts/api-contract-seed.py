"""Seeds one tenant for scripts/api-contract.sh through the public API.

    python3 scripts/api-contract-seed.py <gateway> <name> <out.json>

A fresh user signs up and makes a project with one object of every kind a
public path names: an API key, a build with an uploaded report (so a
failure, its group and its test), a comment, a regroup job, a
classification rule, a quality gate rule, a quarantined test, an
integration connection, an integration rule and a delivery. The project is put on the enterprise plan
(`FAULTLINE_CONTRACT_ADMIN_URL`, `FAULTLINE_CONTRACT_DATABASE`). `<out.json>` gets the
user's credentials, the project and each object's id keyed by the path
segment and parameter that name it (`builds/{build}`), which the
`tenant_isolation` check replays under the other tenant's paths. Every
text carries `<name>`, so the other tenant's answers can be searched for it.
"""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

GATEWAY, NAME, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
MARKER = f"{NAME}-{secrets.token_hex(5)}"


def call(method, path, token=None, body=None, content_type="application/json", expect=(200, 201, 202, 204)):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{GATEWAY}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"api-contract-seed: {method} {path} answered {status}: {text}")
    return json.loads(text) if text else None


def raise_plan(project):
    """The enterprise plan's limits, the highest there are.

    The run's requests count against them, and a free plan's (300 a minute)
    would throttle it. Plans change only through platform admins, so the
    database is asked directly, before the gateway first reads the
    project's limits (it keeps them for minutes).
    """
    subprocess.run(
        [
            "psql", os.environ["FAULTLINE_CONTRACT_ADMIN_URL"], "-q", "-v", "ON_ERROR_STOP=1",
            "-c", f"\\connect {os.environ['FAULTLINE_CONTRACT_DATABASE']}",
            "-c", f"UPDATE project.projects SET plan = 'enterprise' WHERE id = '{project}'",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main():
    email = f"{MARKER}@example.com"
    password = f"contract-{secrets.token_hex(12)}"
    call("POST", "/api/v1/auth/signup", body={"email": email, "password": password, "display_name": MARKER})
    token = call("POST", "/api/v1/auth/login", body={"email": email, "password": password})["access_token"]
    me = call("GET", "/api/v1/me", token)
    project = call("POST", "/api/v1/projects", token, {"slug": MARKER, "name": f"{MARKER} project"})["id"]
    raise_plan(project)
    v1, v2 = f"/api/v1/projects/{project}", f"/api/v2/projects/{project}"

    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7 * 86400))
    key = call("POST", f"{v1}/api-keys", token, {"name": f"{MARKER} key", "role": "member", "expires_at": expires})
    build = call("POST", f"{v1}/builds", token, {"job_name": f"{MARKER}-ci", "external_id": MARKER})["id"]
    report = (
        f'<testsuite name="{MARKER}-suite" tests="2" failures="1">'
        f'<testcase classname="{MARKER}.Checkout" name="{MARKER}_passes"/>'
        f'<testcase classname="{MARKER}.Checkout" name="{MARKER}_fails">'
        f'<failure message="{MARKER} boom" type="{MARKER}Error">{MARKER} trace</failure></testcase>'
        "</testsuite>"
    ).encode()
    call("POST", f"{v1}/builds/{build}/results", token, report, content_type="application/xml")
    failure = call("GET", f"{v1}/failures", token)["items"][0]
    group, test = failure["group_id"], failure["test"]["id"]
    comment = call("POST", f"{v2}/failures/{group}/comments", token, {"body": f"{MARKER} comment"})["id"]
    job = call("POST", f"{v2}/regroup", token, {})["id"]
    # The job moves failures between groups: the run starts once it is done.
    deadline = time.monotonic() + 30
    while call("GET", f"{v2}/jobs/{job}", token)["state"] not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            sys.exit("api-contract-seed: the regroup job did not finish within 30 s")
        time.sleep(0.2)
    group = call("GET", f"{v1}/failures/{failure['id']}", token)["group_id"]
    rule = call(
        "POST",
        f"{v1}/classification-rules",
        token,
        {"name": f"{MARKER} rule", "field": "message", "pattern": f"{MARKER}-matches-nothing", "label": "flaky"},
    )["id"]
    gate_rule = call(
        "POST",
        f"{v1}/quality-gate-rules",
        token,
        {"name": f"{MARKER} gate", "kind": "max_failures", "threshold": 0, "branch_pattern": "*"},
    )["id"]
    call("PUT", f"{v1}/quarantine/{test}", token, {"reason": f"{MARKER} quarantined"})
    connection = call(
        "POST",
        f"{v1}/integrations/connections",
        token,
        # A bot token and a channel: no URL of ours for the outbound check to refuse.
        {"kind": "slack", "name": f"{MARKER} slack", "bot_token": f"xoxb-{secrets.token_hex(16)}", "channel": "C0CONTRACT"},
    )["id"]
    integration_rule = call(
        "POST", f"{v1}/integrations/rules", token, {"connection_id": connection, "events": ["build.completed"]}
    )["id"]
    # A delivery: a second build completes, and the rule sends its event
    # to the connection (a Slack nobody answers; the delivery stays queued
    # or dead, either way it exists).
    finished = call("POST", f"{v1}/builds", token, {"job_name": f"{MARKER}-ci", "external_id": f"{MARKER}-2"})["id"]
    call("PATCH", f"{v1}/builds/{finished}", token, {"status": "failed"})
    deadline = time.monotonic() + 30
    while not (deliveries := call("GET", f"{v1}/integrations/deliveries", token)["items"]):
        if time.monotonic() > deadline:
            sys.exit("api-contract-seed: no delivery of build.completed within 30 s")
        time.sleep(0.2)

    objects = {
        "projects/{project}": project,
        "projects/{project_ref}": project,
        "members/{member}": me["id"],
        "api-keys/{key_id}": key["id"],
        "builds/{build}": build,
        "failures/{failure}": failure["id"],
        "failures/{group}": group,
        "tests/{test}": test,
        "quarantine/{test}": test,
        "comments/{comment}": comment,
        "jobs/{job}": job,
        "classification-rules/{rule}": rule,
        "quality-gate-rules/{rule}": gate_rule,
        "connections/{connection}": connection,
        "rules/{rule}": integration_rule,
        "deliveries/{delivery}": deliveries[0]["id"],
    }
    with open(OUT, "w") as out:
        json.dump({"name": NAME, "marker": MARKER, "token": token, "user": me["id"], "objects": objects}, out)


main()
