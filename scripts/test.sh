#!/usr/bin/env bash
# Runs every certfs test. As root it first installs what the tests drive
# (FUSE, openssl, nginx, rsync, vim, pebble, Python's cryptography, the
# PostgreSQL server the PostgreSQL store's tests start clusters of,
# Prometheus's promtool for the alerting rules); otherwise those must
# already be there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v fusermount3 >/dev/null || need_pkgs+=(fuse3)
command -v openssl >/dev/null || need_pkgs+=(openssl)
PATH=$PATH:/usr/sbin:/sbin command -v nginx >/dev/null || need_pkgs+=(nginx-light)
command -v rsync >/dev/null || need_pkgs+=(rsync)
command -v vim >/dev/null || need_pkgs+=(vim)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v sqlite3 >/dev/null || need_pkgs+=(sqlite3)
command -v ps >/dev/null || need_pkgs+=(procps)
command -v setpriv >/dev/null || need_pkgs+=(util-linux)
# promtool: checks and unit-tests packaging/monitoring's alerting rules.
command -v promtool >/dev/null || need_pkgs+=(prometheus)
# pebble: Let's Encrypt's ACME test server (with pebble-challtestsrv), for the ACME issuer.
command -v pebble >/dev/null || need_pkgs+=(pebble)
# BIND (named, tsig-keygen, dig): the authoritative DNS server of the dns-01 tests.
[ -x /usr/sbin/named ] || need_pkgs+=(bind9)
command -v dig >/dev/null || need_pkgs+=(bind9-dnsutils)
# HAProxy, for hooks.json's runtime API update (tests/delivery.rs).
command -v haproxy >/dev/null || need_pkgs+=(haproxy)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v python3 >/dev/null || need_pkgs+=(python3)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need_pkgs+=(python3-cryptography)
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need_pkgs+=(python3-prometheus-client)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "test.sh: installing ${need_pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "test.sh: missing packages: ${need_pkgs[*]} (run as root to install them)" >&2
    exit 1
  fi
fi
# Tests use the python3 on PATH; make sure it has cryptography.
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography

cargo test --all-targets "$@"

# The tree's behaviour once more on PostgreSQL: the same mount suites, each
# mount's store a new database of the tests' own PostgreSQL server
# (tests/common/mod.rs, CERTFS_TEST_STORE). Suites that read the SQLite
# file itself, and the store suites (which run both stores already), are
# left out. Only for a whole run: arguments select tests of the first pass.
if [ "$#" -eq 0 ]; then
  pg_suites=(vaults self_signed lifecycle import merge attributes documents backup
    renewal errors editors issuer_internal issuer_digicert issuer_globalsign
    nginx caching concurrency access mail private_pki serving_copy)
  echo "test.sh: the mount suites again, on PostgreSQL: ${pg_suites[*]}" >&2
  CERTFS_TEST_STORE=postgres cargo test $(printf -- '--test %s ' "${pg_suites[@]}")
fi
