#!/usr/bin/env bash
# A small estate of Docker hosts on one machine, for tests of multi-host deploys (agents,
# Docker Swarm); tests/estate.py drives it (docs/testing.md "The estate"). Each host is a network
# namespace with its own dockerd; the hosts share a LAN (a bridge in a namespace of its own).
# A further namespace on the same LAN, with no engine, is for the appliance (10.77.0.254): the
# test session publishes its loopback services there (tests/estate.py forward) or runs
# processes in it; its own loopback works as usual.
# From ../shared/research/netns-hosts.sh (tested recipe), without the recipe's LAN registry:
# the hosts pull from the appliance registry, published at 10.77.0.254.
# Nothing is added to the machine's own network namespace: every non-loopback address lives in
# namespaces this script makes, so tests never send traffic outside them.
#
#   usage: estate.sh up   DIR N [--swarm]   N hosts (1..8); --swarm: host 1 inits a Swarm,
#                                                 the others join it as workers
#          estate.sh down DIR               stop everything, delete the namespaces
#
# `up` prints eval-able lines:
#   export HOST1_DOCKER=unix://DIR/h1/docker.sock   (one per host: the engine's socket; unix
#                                                   sockets work from any network namespace)
#   export HOST1_ADDR=10.77.0.1 ...                 (the host's LAN address)
#   (every engine trusts plain-HTTP registries on 10.77.0.0/24: the appliance's at 10.77.0.254)
#   export APPLIANCE_NETNS=/var/run/netns/<prefix>app APPLIANCE_ADDR=10.77.0.254
#   export NETNS_PREFIX=<prefix>                    (namespaces PREFIXlan, PREFIXh1 ...)
# Run a process "on" host i with:  nsenter --net=/var/run/netns/${NETNS_PREFIX}h$i CMD
# (not `ip netns exec`: it remounts /sys and dockerd then fails with "Devices cgroup isn't mounted").
#
# Tested on the python machine kind (Debian docker.io 20.10, docker-registry): 2 hosts, Swarm
# init + join in < 1 s, `docker stack deploy --resolve-image never` of a digest-pinned image
# pulled from a LAN registry, services on the host network (`networks: {hostnet: {external: true,
# name: host}}`). Swarm's docker_gwbridge and ingress stay inside the host namespaces.
set -euo pipefail
cmd=${1:-}; DIR=$(realpath -m "${2:?DIR}")
[ ${#DIR} -le 40 ] || { echo "DIR too long for unix sockets (<= 40 chars): $DIR" >&2; exit 2; }
PREFIX="st$(printf %s "$DIR" | sha256sum | cut -c1-6)"
ns() { echo "/var/run/netns/$PREFIX$1"; }

down() {
    local pids=() pid p s
    # remove the containers first, every host at once (their processes are not children of
    # anything killed below); no `swarm leave`: the Swarm's state goes with the directory
    for s in "$DIR"/h*/docker.sock; do
        [ -S "$s" ] || continue
        { docker -H "unix://$s" ps -aq | xargs -r docker -H "unix://$s" rm -f >/dev/null 2>&1 || true; } &
    done
    wait
    # then this estate's dockerds, their containerds and any shim left, killed outright: a
    # graceful stop of a Swarm node's dockerd takes seconds and keeps nothing we need
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        case "$(cat "$p/comm" 2>/dev/null)" in dockerd|containerd|containerd-shim*) ;; *) continue ;; esac
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- " $DIR/h" && pids+=("$pid")
    done
    [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do for _ in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.02; done; done
    # dockerd leaves a bind mount of each container netns under its exec-root
    { grep -o " $DIR/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    for n in $(ip netns list | awk '{print $1}' | grep "^$PREFIX" || true); do ip netns del "$n"; done
    rm -rf "$DIR"
}

up() {
    local n=${1:?N}; local swarm=${2:-}
    [ "$n" -ge 1 ] && [ "$n" -le 8 ] || { echo "N must be 1..8" >&2; exit 2; }
    for b in dockerd docker nsenter ip; do command -v $b >/dev/null || { echo "missing: $b" >&2; exit 1; }; done
    [ -e "$(ns lan)" ] && { echo "already up for $DIR (run down first)" >&2; exit 1; }
    mkdir -p "$DIR"
    ip netns add "${PREFIX}lan"
    nsenter --net="$(ns lan)" ip link add br0 type bridge
    nsenter --net="$(ns lan)" ip link set br0 up
    ip netns add "${PREFIX}app"
    ip link add "${PREFIX}va" netns "${PREFIX}app" type veth peer name la netns "${PREFIX}lan"
    nsenter --net="$(ns lan)" ip link set la master br0
    nsenter --net="$(ns lan)" ip link set la up
    nsenter --net="$(ns app)" ip link set lo up
    nsenter --net="$(ns app)" ip addr add 10.77.0.254/24 dev "${PREFIX}va"
    nsenter --net="$(ns app)" ip link set "${PREFIX}va" up
    for i in $(seq "$n"); do
        ip netns add "${PREFIX}h$i"
        ip link add "${PREFIX}v$i" netns "${PREFIX}h$i" type veth peer name "l$i" netns "${PREFIX}lan"
        nsenter --net="$(ns lan)" ip link set "l$i" master br0
        nsenter --net="$(ns lan)" ip link set "l$i" up
        nsenter --net="$(ns h$i)" ip link set lo up
        nsenter --net="$(ns h$i)" ip addr add "10.77.0.$i/24" dev "${PREFIX}v$i"
        nsenter --net="$(ns h$i)" ip link set "${PREFIX}v$i" up
        mkdir -p "$DIR/h$i"
        echo '{}' >"$DIR/h$i/daemon.json"
        setsid nohup nsenter --net="$(ns h$i)" dockerd --config-file "$DIR/h$i/daemon.json" \
            --host "unix://$DIR/h$i/docker.sock" --data-root "$DIR/h$i/data" --exec-root "$DIR/h$i/x" \
            --pidfile "$DIR/h$i/dockerd.pid" --bridge=none --iptables=false --ip-forward=false \
            --ip-masq=false --insecure-registry 10.77.0.0/24 >"$DIR/h$i/dockerd.log" 2>&1 </dev/null &
    done
    for i in $(seq "$n"); do
        for _ in $(seq 150); do docker -H "unix://$DIR/h$i/docker.sock" info >/dev/null 2>&1 && break; sleep 0.2; done
        docker -H "unix://$DIR/h$i/docker.sock" info >/dev/null 2>&1 || { echo "host $i: dockerd did not start (see $DIR/h$i/dockerd.log)" >&2; exit 1; }
    done
    if [ "$swarm" = --swarm ]; then
        docker -H "unix://$DIR/h1/docker.sock" swarm init --advertise-addr 10.77.0.1 --listen-addr 10.77.0.1:2377 >/dev/null
        local token; token=$(docker -H "unix://$DIR/h1/docker.sock" swarm join-token -q worker)
        for i in $(seq 2 "$n"); do
            docker -H "unix://$DIR/h$i/docker.sock" swarm join --token "$token" --advertise-addr "10.77.0.$i" \
                --listen-addr "10.77.0.$i:2377" 10.77.0.1:2377 >/dev/null
        done
    fi
    for i in $(seq "$n"); do echo "export HOST${i}_DOCKER=unix://$DIR/h$i/docker.sock HOST${i}_ADDR=10.77.0.$i"; done
    echo "export NETNS_PREFIX=$PREFIX"
    echo "export APPLIANCE_NETNS=$(ns app) APPLIANCE_ADDR=10.77.0.254"
}

case "$cmd" in
    up) shift 2; up "$@" ;;
    down) down ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
