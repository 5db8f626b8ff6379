#!/usr/bin/env bash
# The private Docker engine and OCI registry that the tests use.
#
#   test-services.sh start DIR PORT   prints eval-able exports (DOCKER_HOST, STELLA_TEST_REGISTRY)
#   test-services.sh stop DIR PORT    stops what start started (only our own pids) and purges DIR
#
# The engine listens on DIR/docker.sock, keeps its data under DIR, has no bridge and
# touches no iptables, forwarding or masquerading: containers use host or no network.
# The registry (CNCF distribution, Debian docker-registry) listens on 127.0.0.1:PORT.
# If the services for DIR already run (a previous session), start reuses them.
set -euo pipefail
action=${1:?start or stop}; DIR=$(realpath -m "${2:?DIR}"); PORT=${3:?PORT}
SOCK="$DIR/docker.sock"
WAIT_S=${WAIT_S:-60}
[ ${#DIR} -le 70 ] || { echo "DIR too long for unix sockets: $DIR" >&2; exit 2; }

ours() {  # ours PIDFILE: the pid in it runs and its command line mentions DIR
    local pid; [ -s "$1" ] || return 1; pid=$(cat "$1")
    [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR"
}
engine_up() { [ -S "$SOCK" ] && [ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/_ping)" = OK ]; }
registry_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/v2/")" = 200 ]; }

stop_pid() {
    local f=$1 t=$2 pid
    ours "$f" || return 0
    pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq $((t * 5))); do [ -d "/proc/$pid" ] || return 0; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
}

start() {
    for bin in dockerd docker-registry curl; do
        command -v "$bin" >/dev/null || { echo "missing: $bin (run ./build.sh setup as root)" >&2; exit 1; }
    done
    mkdir -p "$DIR/data" "$DIR/exec" "$DIR/registry-data"
    local started=0
    if ! { ours "$DIR/dockerd.pid" && engine_up; }; then
        started=1
        rm -f "$SOCK"; echo '{}' >"$DIR/daemon.json"
        setsid nohup dockerd --host "unix://$SOCK" --data-root "$DIR/data" --exec-root "$DIR/exec" \
            --pidfile "$DIR/dockerd.pid" --config-file "$DIR/daemon.json" \
            --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
            </dev/null >"$DIR/dockerd.log" 2>&1 &
    fi
    if ! { ours "$DIR/registry.pid" && registry_up; }; then
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            echo "127.0.0.1:$PORT is already in use by another program" >&2; exit 1
        fi
        cat >"$DIR/registry.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $DIR/registry-data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$PORT}
YML
        setsid nohup docker-registry serve "$DIR/registry.yml" </dev/null >"$DIR/registry.log" 2>&1 &
        echo $! >"$DIR/registry.pid"
        started=1
    fi
    local deadline=$((SECONDS + WAIT_S))
    until engine_up && registry_up; do
        if [ $SECONDS -ge $deadline ]; then
            echo "test services did not come up in ${WAIT_S}s" >&2
            tail -n 20 "$DIR/dockerd.log" "$DIR/registry.log" >&2 || true
            exit 1
        fi
        sleep 0.3
    done
    echo "export DOCKER_HOST=unix://$SOCK"
    echo "export STELLA_TEST_REGISTRY=127.0.0.1:$PORT"
    echo "export STELLA_SERVICES_DIR=$DIR"
    echo "export STELLA_SERVICES_STARTED=$started"   # 0: reused services someone else started
}

stop() {
    stop_pid "$DIR/registry.pid" 10
    stop_pid "$DIR/dockerd.pid" 40
    stop_pid "$DIR/exec/containerd/containerd.pid" 10
    if command -v findmnt >/dev/null; then
        findmnt -rn -o TARGET | awk -v d="$DIR/" 'index($0, d) == 1' | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
    fi
    rm -rf -- "$DIR"
}

case "$action" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop DIR PORT" >&2; exit 2 ;; esac
