# Sourced by the scripts that start the platform on one machine.

# The settings that let the services find each other on 127.0.0.1, one
# `KEY=value` per line for `env`: every service gets the auth service's URL
# (the project service calls it), the project service's (the failure
# service calls it; so does analytics), the integration gateway's and the
# analytics service's (the failure service relays its outbox events to
# both), the failure service's (the integration gateway reads groups
# there), the gateway its upstreams.
# Arguments: the ports of auth, project, failure, analytics and the
# integration gateway; then, optionally, those of the web dashboard and the
# gateway (the gateway sends pages to the dashboard, which calls the API
# through the gateway).
service_links() {
    local auth="$1" project="$2" failure="$3" analytics="$4" integration="$5"
    local web="${6:-}" gateway="${7:-}"
    if [[ -n "$web" && -n "$gateway" ]]; then
        printf '%s\n' \
            "FAULTLINE__SERVICE__UPSTREAMS__WEB__URL=http://127.0.0.1:$web" \
            "FAULTLINE__SERVICE__PAGES_UPSTREAM=web" \
            "FAULTLINE__SERVICE__GATEWAY_URL=http://127.0.0.1:$gateway"
    fi
    printf '%s\n' \
        "FAULTLINE__SERVICE__AUTH_URL=http://127.0.0.1:$auth" \
        "FAULTLINE__SERVICE__FAILURE_URL=http://127.0.0.1:$failure" \
        "FAULTLINE__SERVICE__INTEGRATION_GATEWAY_URL=http://127.0.0.1:$integration" \
        "FAULTLINE__SERVICE__ANALYTICS_URL=http://127.0.0.1:$analytics" \
        "FAULTLINE__SERVICE__PROJECT_URL=http://127.0.0.1:$project" \
        "FAULTLINE__SERVICE__UPSTREAMS__AUTH__URL=http://127.0.0.1:$auth" \
        "FAULTLINE__SERVICE__UPSTREAMS__PROJECT__URL=http://127.0.0.1:$project" \
        "FAULTLINE__SERVICE__UPSTREAMS__FAILURE__URL=http://127.0.0.1:$failure" \
        "FAULTLINE__SERVICE__UPSTREAMS__ANALYTICS__URL=http://127.0.0.1:$analytics" \
        "FAULTLINE__SERVICE__UPSTREAMS__INTEGRATION__URL=http://127.0.0.1:$integration"
}
