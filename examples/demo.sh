#!/usr/bin/env bash
# The end-to-end demo (the main job): keys, a trust root, a kit built from
# examples/site/kit.yaml, inspected and verified. Grows with each capability.
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
echo
echo "demo finished: $WORK"
