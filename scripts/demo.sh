#!/usr/bin/env bash
# Builds certfs, mounts it in a temporary folder, creates a vault and a
# self-signed certificate from a policy.json, shows it with openssl, and
# unmounts. Needs FUSE (apt-get install fuse3 openssl as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/certfs
work=$(mktemp -d)
mnt="$work/mnt"
mkdir -p "$mnt"
"$bin" mount "$mnt" --data "$work/data" 2>"$work/certfs.log" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q " $mnt .* - fuse" /proc/self/mountinfo && break; sleep 0.1; done

set -x
mkdir "$mnt/prod"
mkdir "$mnt/prod/web"
cat > "$mnt/prod/web/policy.json" <<'J'
{"key_props":{"kty":"RSA","key_size":2048,"exportable":true,"reuse_key":false},
 "x509_props":{"subject":"CN=web.example.com, O=\"Contoso, Inc.\"","sans":{"dns_names":["web.example.com"]},"validity_months":12},
 "issuer":{"name":"Self"}}
J
ls -l "$mnt/prod/web"
openssl x509 -in "$mnt/prod/web/cert.pem" -noout -text
openssl pkey -in "$mnt/prod/web/privkey.pem" -noout -text | head -1
cat "$mnt/prod/web/policy.json"
