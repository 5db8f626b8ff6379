#!/usr/bin/env bash
# The end-to-end demo (the main job), grown with each capability:
#   connected side:  keys, a 2-of-2 trust root, a kit from examples/site/kit.yaml,
#                    inspect, verify, byte-identical rebuild, a tampered kit refused;
#                    with the test services: a real image pushed to a local registry,
#                    a release kit pinning it by digest, with SBOMs and findings;
#   isolated side:   appliance init, import (and a no-op re-import), kits, status, audit,
#                    the signed import record checked by stella-verify, registry seeding
#                    and docker pull by digest; users, environments, promotions with
#                    approvals, deploys, evidence, drift;
#   the service:     stella serve over HTTPS (the certificate stella init made), the
#                    console URL and a login, one promotion approved through the API.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${STELLA_DEMO_DIR:-$ROOT/out/demo}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "keygen: two Ed25519 release keys"
stella-bundler keygen --out keys/a
stella-bundler keygen --out keys/b

step "trust root: 2 of 2 on channel stable"
stella-bundler trust init --key keys/a --key keys/b --threshold 2 --channel stable --expires 2027-12-31 --out trust.json

step "build the kit from examples/site/kit.yaml"
stella-bundler build "$ROOT/examples/site/kit.yaml" --key keys/a --key keys/b --out site.stella-kit

step "inspect"
stella-bundler inspect site.stella-kit

step "verify (operator, before and after the crossing)"
stella-verify kit site.stella-kit --trust trust.json

step "rebuild: byte-identical"
stella-bundler build "$ROOT/examples/site/kit.yaml" --key keys/a --key keys/b --out again.stella-kit >/dev/null
cmp site.stella-kit again.stella-kit && echo "identical: $(sha256sum site.stella-kit | cut -c1-16)…"

step "a tampered kit is refused"
python3 - <<'PY'
data = bytearray(open("site.stella-kit", "rb").read())
data[len(data) // 2] ^= 0x01
open("tampered.stella-kit", "wb").write(bytes(data))
PY
if stella-verify kit tampered.stella-kit --trust trust.json; then echo "tampered kit accepted!"; exit 1; else echo "refused (exit $?)"; fi

HAVE_SERVICES=0
if [ -n "${STELLA_TEST_REGISTRY:-}" ] && [ -n "${DOCKER_HOST:-}" ] && command -v docker >/dev/null; then
    HAVE_SERVICES=1
fi

if [ $HAVE_SERVICES = 1 ]; then
    REG=$STELLA_TEST_REGISTRY
    step "a real image: busybox + a dpkg database + a Python package, pushed to $REG"
    mkdir -p rootfs/bin rootfs/etc rootfs/var/lib/dpkg rootfs/usr/lib/python3/dist-packages/exampleweb-2.3.0.dist-info
    cp "$(command -v busybox)" rootfs/bin/busybox
    for a in sh cat echo httpd wget; do ln -sf busybox "rootfs/bin/$a"; done
    dpkg-query -s libc6 zlib1g 2>/dev/null | sed 's/^$//' >rootfs/var/lib/dpkg/status || true
    printf 'Metadata-Version: 2.1\nName: exampleweb\nVersion: 2.3.0\nLicense: MIT\n' \
        >rootfs/usr/lib/python3/dist-packages/exampleweb-2.3.0.dist-info/METADATA
    echo ok >rootfs/etc/index.html
    tar -C rootfs -c . | docker import - "$REG/demo/web:1.0" >/dev/null
    docker push "$REG/demo/web:1.0" | tail -1

    step "a release kit: the image pinned by digest, SBOMs, advisories, VEX, policy, provenance"
    mkdir -p shop && cp "$ROOT/examples/shop/compose.yaml" shop/ && cp -r "$ROOT/examples/site" shop/site
    sed "s|@REGISTRY@|$REG|g" "$ROOT/examples/shop/kit.yaml.in" >shop/kit.yaml
    stella-bundler build shop/kit.yaml --key keys/a --key keys/b --out shop.stella-kit --cache-dir cache
    stella-bundler inspect shop.stella-kit --releases --sboms --no-entries
    stella-verify kit shop.stella-kit --trust trust.json

    step "findings for the image (ad hoc): the advisory matches, the site's VEX suppresses it"
    stella-bundler sbom "$REG/demo/web:1.0" --format cyclonedx --insecure --out web.cdx.json
    stella findings --sbom web.cdx.json --advisories "$ROOT/examples/site/osv" \
        --vex "$ROOT/examples/site/vex" --show-suppressed --fail-on never
fi

step "appliance: init (database, content store, signing key)"
APP_REG=127.0.0.1:${STELLA_DEMO_REGISTRY_PORT:-5056}
stella init --home appliance --trust trust.json --registry-addr "$APP_REG"
export STELLA_HOME=$WORK/appliance

step "import the site kit, then again (a no-op)"
stella import site.stella-kit --no-seed
stella import site.stella-kit --no-seed

if [ $HAVE_SERVICES = 1 ]; then
    step "the appliance's registry on $APP_REG; import the release kit and seed it"
    stella registry serve >registry.log 2>&1 &
    REG_PID=$!
    cleanup() {
        kill "$REG_PID" 2>/dev/null || true
        for p in shop-dev shop-prod; do
            ids=$(docker ps -aq --filter "label=com.docker.compose.project=$p")
            [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
            docker volume rm -f "stella-sticker-$p" >/dev/null 2>&1
        done
        return 0
    }
    trap cleanup EXIT
    for _ in $(seq 50); do curl -sf "http://$APP_REG/v2/" >/dev/null && break; sleep 0.2; done
    stella import shop.stella-kit
    PINNED=$(stella-bundler inspect shop.stella-kit --releases --json |
             python3 -c "import json,sys; r=json.load(sys.stdin)['releases'][0]['components'][0]; print(r['digest'])")
    step "a Docker host pulls the release image by digest from the appliance"
    docker pull "$APP_REG/demo/web@$PINNED" | tail -1
    docker image inspect "$APP_REG/demo/web@$PINNED" --format '{{json .RepoDigests}}'
fi

if [ $HAVE_SERVICES = 1 ]; then
    step "users, roles and environments (the CLI acts as \$STELLA_USER or --as)"
    stella user add alice --role admin --role requester --role approver
    export STELLA_USER=alice
    stella user add bob --role approver
    stella user add carol --role approver
    stella user add dave --role deployer
    stella env create dev --order 1 --staleness-budget 8760h
    stella env create prod --order 2 --requires-approvals 2 --approver-role approver --separation-of-duties \
        --staleness-budget 8760h
    stella release show shop@1.0

    step "promote to prod before dev: refused, and every gate says why"
    if stella promote shop@1.0 --to prod --reason "skip dev"; then echo "skipping dev was allowed!"; exit 1; fi

    step "targets: dev and prod projects on the local Docker engine, ports from env files"
    echo "WEB_PORT=18481" >dev.env
    echo "WEB_PORT=18482" >prod.env
    stella target add dev-web-1 --env dev --docker "$DOCKER_HOST" --project shop-dev --env-file "$WORK/dev.env"
    stella target add prod-web-1 --env prod --docker "$DOCKER_HOST" --project shop-prod --env-file "$WORK/prod.env"

    step "dev: promote (policy gate: the critical CVE is not_affected by VEX), then deploy"
    DEV=$(stella promote shop@1.0 --to dev --reason "first rollout" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['promotion']['id'])")
    stella deploy "$DEV" --as dave
    curl -sf http://127.0.0.1:18481/index.html

    step "prod runs its own workflow: gates, approvals, deploy, a smoke test and a soak (docs/workflows.md)"
    stella workflow set prod "$ROOT/examples/workflows/prod-smoke.workflow.yaml"

    step "prod: two approvals, separation of duties"
    PROD=$(stella promote shop@1.0 --to prod --reason "go live" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['promotion']['id'])")
    if stella approve "$PROD" --as alice; then echo "the requester approved her own promotion!"; exit 1; fi
    stella approve "$PROD" --as bob --comment "SBOM and findings reviewed"
    stella approve "$PROD" --as carol
    stella promotion show "$PROD"

    step "prod: deploy (health-gated), then where things run and whether anyone changed them"
    stella deploy "$PROD" --as dave --evidence prod-deploy.stella-evidence
    RUN=$(stella run list --json | python3 -c "import json,sys; print([r['id'] for r in json.load(sys.stdin) if r['promotion'] == '$PROD'][0])")
    stella run show "$RUN"
    stella whereis
    stella drift

    step "the decision, sealed: evidence packet verified and replayed offline"
    stella evidence export "$PROD" --out prod.stella-evidence
    stella key export --out appliance.pub.json
    stella-verify evidence prod.stella-evidence --appliance-key appliance.pub.json
    stella-verify replay prod.stella-evidence
    stella-verify evidence prod-deploy.stella-evidence --appliance-key appliance.pub.json
    stella-verify replay prod-deploy.stella-evidence      # the run's gate and approval steps too

    step "someone stops the prod container by hand: drift reports it (exit 1)"
    docker stop "$(docker ps -q --filter label=com.docker.compose.project=shop-prod)" >/dev/null
    if stella drift prod; then echo "drift not detected!"; exit 1; fi
fi

if [ $HAVE_SERVICES = 1 ]; then
    step "the next day: a delta kit carries only what changed (the site withdrew its VEX statement)"
    rm -rf shop-next && cp -r shop shop-next
    sed -i 's/sequence: 2/sequence: 3/; s/created: 2026-11-02T00:00:00Z/created: 2026-11-03T00:00:00Z/' shop-next/kit.yaml
    python3 - shop-next/site/vex/site.openvex.json <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["version"], doc["timestamp"] = 2, "2026-11-02T12:00:00Z"
doc["statements"] = [{"vulnerability": s["vulnerability"], "products": s["products"],
                      "status": "under_investigation"} for s in doc["statements"]]
json.dump(doc, open(sys.argv[1], "w"), indent=2)
PY
    stella-bundler build shop-next/kit.yaml --key keys/a --key keys/b --cache-dir cache \
        --base shop.stella-kit --trust trust.json --out shop-next.delta.stella-kit
    stella-bundler build shop-next/kit.yaml --key keys/a --key keys/b --cache-dir cache --out shop-next.full.stella-kit >/dev/null
    ls -l shop-next.full.stella-kit shop-next.delta.stella-kit | awk '{print $5, $9}'
    stella-verify kit shop-next.delta.stella-kit --base shop.stella-kit --trust trust.json
    stella-bundler diff shop.stella-kit shop-next.delta.stella-kit

    step "plan before importing: what the delta would change for what runs and what waits (exit 1: a verdict)"
    if stella plan shop-next.delta.stella-kit; then echo "the plan saw no verdict change!"; exit 1; fi
    echo "(not imported: the admin reads the plan first; nothing on the appliance changed)"
fi

step "what the appliance knows"
stella kits
stella status
stella audit verify

step "an auditor checks the signed import record offline"
[ -f appliance.pub.json ] || stella key export --out appliance.pub.json
RECORD=$(ls appliance/records/*.dsse.json | head -1)
stella-verify import-record "$RECORD" --appliance-key appliance.pub.json

if [ $HAVE_SERVICES = 1 ]; then
    step "the appliance as a service: stella serve over HTTPS (the certificate stella init made)"
    CONSOLE_PORT=${STELLA_DEMO_CONSOLE_PORT:-8444}
    CONSOLE=https://127.0.0.1:$CONSOLE_PORT
    CA=$STELLA_HOME/tls/cert.pem
    CAROL_PASSWORD=carol-demo-console-password
    printf '%s\n' "$CAROL_PASSWORD" | stella user passwd carol --password-stdin
    stella serve --listen "127.0.0.1:$CONSOLE_PORT" --agent-listen "127.0.0.1:$((CONSOLE_PORT + 1))" >serve.log 2>&1 &
    SERVE_PID=$!
    trap 'kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; cleanup' EXIT
    for _ in $(seq 100); do curl -sf --cacert "$CA" "$CONSOLE/api/v1/openapi.json" -o /dev/null && break; sleep 0.2; done
    curl -sf --cacert "$CA" "$CONSOLE/api/v1/openapi.json" -o /dev/null || { cat serve.log; echo "stella serve did not answer"; exit 1; }
    echo "console: $CONSOLE/   login: carol / $CAROL_PASSWORD   (certificate: $CA)"
    openssl x509 -in "$CA" -noout -fingerprint -sha256 2>/dev/null || true

    step "prod again after the drift: alice requests, bob approves on the CLI, carol through the API"
    NEXT=$(stella promote shop@1.0 --to prod --reason "redeploy after the drift" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['promotion']['id'])")
    stella approve "$NEXT" --as bob --comment "drift reviewed"
    LOGIN=$(curl -sS --fail-with-body --cacert "$CA" -c cookies.txt -H 'Content-Type: application/json' \
        -d "{\"user\": \"carol\", \"password\": \"$CAROL_PASSWORD\"}" "$CONSOLE/api/v1/login")
    echo "POST /api/v1/login -> $LOGIN" | sed 's/"csrfToken":"[^"]*"/"csrfToken":"…"/'
    CSRF=$(printf '%s' "$LOGIN" | python3 -c "import json,sys; print(json.load(sys.stdin)['csrfToken'])")
    echo "POST /api/v1/promotions/$NEXT/approve (session cookie + X-CSRF-Token):"
    curl -sS --fail-with-body --cacert "$CA" -b cookies.txt -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
        -d '{"comment": "approved from the API"}' "$CONSOLE/api/v1/promotions/$NEXT/approve" |
        python3 -c "import json,sys; o=json.load(sys.stdin); p=o.get('promotion', o); print(json.dumps({k: p[k] for k in ('id', 'state', 'release', 'environment') if k in p}))"
    echo "without the CSRF token the same request is refused:"
    curl -sS --cacert "$CA" -b cookies.txt -H 'Content-Type: application/json' -d '{}' -w ' (HTTP %{http_code})\n' \
        "$CONSOLE/api/v1/promotions/$NEXT/approve"
    stella promotion show "$NEXT"
    if [ "${STELLA_DEMO_SERVE:-0}" = 1 ]; then
        echo "serving until Ctrl-C: $CONSOLE/ (carol / $CAROL_PASSWORD)"
        wait "$SERVE_PID" || true
    fi
fi

echo
echo "demo finished: $WORK"
