#!/usr/bin/env bash
# CI's check of the Debian package: builds it (scripts/package.sh), installs
# it on this machine with dpkg -i, checks what was installed (the binary in
# /usr/bin, the man pages, the completions, the unit through
# systemd-analyze verify, the master key postinst makes, a mount through
# mount.fuse3 and one through /sbin/mount.certfs), then purges it. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "check-package.sh: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i, mount)"

need_pkgs=()
command -v fusermount3 >/dev/null || need_pkgs+=(fuse3)
command -v man >/dev/null || need_pkgs+=(man-db)
command -v systemd-analyze >/dev/null || need_pkgs+=(systemd)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "check-package.sh: installing ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# mount(8) runs helpers with /usr/local/bin before /usr/bin.
[ ! -e /usr/local/bin/certfs ] || fail "/usr/local/bin/certfs would shadow the packaged /usr/bin/certfs"
dpkg -s certfs >/dev/null 2>&1 && fail "a certfs package is installed already; this check installs and purges its own"

deb=$(bash scripts/package.sh)
echo "check-package.sh: built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --contents "$deb" | awk '{print $6}' >target/debian/contents.txt

work=$(mktemp -d)
key_was_there=$([ -e /etc/certfs/master.key ] && echo yes || echo no)
cleanup() {
  for mnt in "$work/fuse" "$work/helper"; do
    if mountpoint -q "$mnt" 2>/dev/null; then umount -l "$mnt" || true; fi
  done
  dpkg --purge certfs >/dev/null 2>&1 || true
  if [ "$key_was_there" = no ]; then
    rm -f /etc/certfs/master.key
    rmdir /etc/certfs 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

dpkg -i "$deb" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

echo "== certfs --version from /usr/bin"
[ "$(/usr/bin/certfs --version)" = "certfs $version" ] || fail "/usr/bin/certfs --version: $(/usr/bin/certfs --version)"

echo "== man pages"
[ "$(man -w certfs)" = /usr/share/man/man1/certfs.1.gz ] || fail "man -w certfs: $(man -w certfs 2>&1)"
[ "$(man -w certfs-mount)" = /usr/share/man/man1/certfs-mount.1.gz ] || fail "man -w certfs-mount"
MANWIDTH=80 man certfs-mount 2>/dev/null | grep -q -- '--allow-other' || fail "man certfs-mount lacks --allow-other"

echo "== completions"
bash -c 'source /usr/share/bash-completion/completions/certfs && complete -p certfs' | grep -q certfs ||
  fail "the bash completion defines no completion for certfs"
head -n 1 /usr/share/zsh/vendor-completions/_certfs | grep -qx '#compdef certfs' ||
  fail "the zsh completion does not start with #compdef certfs"

echo "== docs and monitoring kit"
for file in /usr/share/doc/certfs/README.md /usr/share/doc/certfs/deployment.md \
  /usr/share/doc/certfs/copyright /usr/share/certfs/monitoring/certfs.rules.yml \
  /usr/share/certfs/monitoring/grafana-dashboard.json; do
  [ -s "$file" ] || fail "$file is missing"
done

echo "== the master key postinst made"
if [ "$key_was_there" = no ]; then
  [ "$(stat -c '%a %s' /etc/certfs/master.key)" = "600 32" ] || fail "/etc/certfs/master.key: $(stat -c '%a %s' /etc/certfs/master.key)"
fi
[ "$(stat -c '%a' /etc/certfs)" = 700 ] || fail "/etc/certfs is not 0700"

echo "== systemd-analyze verify"
verify=$(systemd-analyze verify /lib/systemd/system/certfs.service 2>&1) || fail "systemd-analyze verify: $verify"
# Complaints that concern this unit fail the check; the host's own may not.
if printf '%s\n' "$verify" | grep -i 'certfs'; then
  fail "systemd-analyze verify complains about certfs.service"
fi
grep -qx 'Type=notify' /lib/systemd/system/certfs.service || fail "the unit is not Type=notify"

# A mount through the installed helper; `umount` ends the daemon.
mount_and_use() {
  local mnt=$1 policy
  policy='{"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=web.example.com","validity_months":12},"issuer":{"name":"Self"}}'
  mountpoint -q "$mnt" || fail "$mnt is not mounted"
  mkdir -p "$mnt/prod/web"
  printf '%s' "$policy" >"$mnt/prod/web/policy.json"
  openssl x509 -in "$mnt/prod/web/cert.pem" -noout -subject | grep -q web.example.com || fail "no certificate in $mnt"
  umount "$mnt"
  mountpoint -q "$mnt" && fail "$mnt still mounted after umount"
  return 0
}

echo "== mount -t fuse.certfs (mount.fuse3 runs /usr/bin/certfs)"
mkdir -p "$work/fuse"
mount -t fuse.certfs certfs "$work/fuse" -o "allow_other,data=$work/data-fuse" </dev/null >"$work/fuse.log" 2>&1 ||
  fail "mount -t fuse.certfs: $(cat "$work/fuse.log")"
grep " $work/fuse " /proc/self/mountinfo | grep -q 'fuse.certfs' || fail "not a fuse.certfs mount"
mount_and_use "$work/fuse"

echo "== mount -t certfs (/sbin/mount.certfs)"
mkdir -p "$work/helper"
CERTFS_LOG=$work/helper.log mount -t certfs certfs "$work/helper" -o "data=$work/data-helper" ||
  fail "mount -t certfs: $(cat "$work/helper.log" 2>/dev/null)"
mount_and_use "$work/helper"

echo "check-package.sh: the package installs and works"
