#!/usr/bin/env bash
# One entry point for a fresh machine (Debian 12, root) and for CI.
#
#   ./build.sh demo      set up, then run the end-to-end demo (the main job)
#   ./build.sh test      set up, type-check and lint, start the test services, run the whole test suite
#                        (2 pytest-xdist workers; STELLA_TEST_WORKERS=N to change, 0 for none)
#   ./build.sh check     type-check (mypy --strict) and lint (ruff) only
#   ./build.sh setup     install system packages and the Python environment only
#   ./build.sh services start|stop    the private dockerd + registry used by tests
#   ./build.sh bench NAME             run bench/NAME.py inside the environment
#
# Everything is installed here: nothing that was set up by hand on a machine is assumed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
APT_PACKAGES=(docker.io docker-registry busybox-static zstd curl skopeo chromium systemd rpm db5.3-util nginx iproute2
              libcommons-lang3-java libcommons-io-java libguava-java libslf4j-java ruby-rack composer unzip binutils)
export STELLA_SERVICES_DIR="${STELLA_SERVICES_DIR:-/tmp/stella-test-services}"
export STELLA_REGISTRY_PORT="${STELLA_REGISTRY_PORT:-5055}"

log() { printf '==> %s\n' "$*" >&2; }

need_apt() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

setup() {
    if [ "$(id -u)" = 0 ]; then need_apt; else log "not root: skipping Debian packages (${APT_PACKAGES[*]})"; fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        log "installing Python packages"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
        if ! "$VENV/bin/pip" install -q -e ".[test]" >"$VENV/pip.log" 2>&1; then
            cat "$VENV/pip.log" >&2; exit 1
        fi
        touch "$stamp"
    fi
}

services() {
    "$ROOT/scripts/test-services.sh" "$1" "$STELLA_SERVICES_DIR" "$STELLA_REGISTRY_PORT"
}

start_services() {  # exports DOCKER_HOST, STELLA_TEST_REGISTRY when root can run dockerd
    local exports
    if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; then
        if exports=$(services start); then eval "$exports"; return 0; fi
        log "test services did not start"
        [ "${CI:-}" = true ] && exit 1
    fi
    return 0
}

stop_services() {  # only what this run started (a developer's running services are left alone)
    if [ "${STELLA_SERVICES_STARTED:-0}" = 1 ]; then services stop >/dev/null 2>&1 || true; fi
}

run_demo() {
    setup
    start_services
    set +e
    PATH="$VENV/bin:$PATH" bash "$ROOT/examples/demo.sh" "$@"
    local rc=$?
    set -e
    stop_services
    return $rc
}

check_code() {  # strict types and lint before any test: a type error fails CI like a failing test
    log "type check: mypy --strict (pyproject.toml [tool.mypy])"
    "$VENV/bin/mypy" || return 1
    log "lint: ruff check (pyproject.toml [tool.ruff])"
    "$VENV/bin/ruff" check --quiet . || return 1
}

run_tests() {
    setup
    check_code || { log "static checks failed"; exit 1; }
    start_services
    set +e
    # two workers (pytest-xdist) on the two CPUs CI gives, a test module on one worker in file order
    # (its module-scoped servers start once); STELLA_TEST_WORKERS=0 runs in this process
    "$VENV/bin/python" -m pytest -n "${STELLA_TEST_WORKERS:-2}" --dist loadfile "$@"
    local rc=$?
    set -e
    stop_services
    return $rc
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    demo) run_demo "$@" ;;
    test) run_tests "$@" ;;
    check) setup; check_code ;;
    services) services "${1:?start or stop}" ;;
    bench) setup; name=${1:?bench name}; shift; "$VENV/bin/python" "$ROOT/bench/$name.py" "$@" ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
