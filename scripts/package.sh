#!/usr/bin/env bash
# Builds the Debian package target/debian/certfs_<version>_<arch>.deb:
#   /usr/bin/certfs                   the binary (where mount.fuse3 finds it
#                                     for `mount -t fuse.certfs` and fstab)
#   /sbin/mount.certfs                the helper for fstab lines of type certfs
#   /lib/systemd/system/certfs.service  Type=notify, /etc/certs
#   /usr/share/man/man1/certfs*.1.gz  man pages  } rendered by the binary from
#   bash and zsh completions          } its own command line (package-assets)
#   /usr/share/doc/certfs/            README, docs/, the monitoring kit
#   /usr/share/certfs/monitoring/     Prometheus rules, Grafana dashboard
# With dpkg-deb alone (no cargo-deb to build first): the layout is this
# script. Install with `dpkg -i target/debian/certfs_*.deb` (needs fuse3).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet --bin certfs
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
out=target/debian
root=$out/certfs_${version}_${arch}
rm -rf "$root"
mkdir -p "$root/DEBIAN"

install -D -m 0755 target/release/certfs "$root/usr/bin/certfs"
strip --strip-unneeded "$root/usr/bin/certfs"
install -D -m 0755 scripts/mount.certfs "$root/sbin/mount.certfs"
install -D -m 0644 packaging/certfs.service "$root/lib/systemd/system/certfs.service"

assets=$(mktemp -d)
trap 'rm -rf "$assets"' EXIT
"$root/usr/bin/certfs" package-assets "$assets"
for page in "$assets"/man/*.1; do
  install -D -m 0644 "$page" "$root/usr/share/man/man1/$(basename "$page")"
  gzip -9n "$root/usr/share/man/man1/$(basename "$page")"
done
install -D -m 0644 "$assets/completions/certfs.bash" \
  "$root/usr/share/bash-completion/completions/certfs"
install -D -m 0644 "$assets/completions/_certfs" \
  "$root/usr/share/zsh/vendor-completions/_certfs"

doc=$root/usr/share/doc/certfs
install -D -m 0644 README.md "$doc/README.md"
for page in docs/*.md; do
  install -D -m 0644 "$page" "$doc/$(basename "$page")"
done
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
for file in packaging/monitoring/certfs.rules.yml packaging/monitoring/grafana-dashboard.json; do
  install -D -m 0644 "$file" "$root/usr/share/certfs/monitoring/$(basename "$file")"
done

install -m 0755 packaging/debian/postinst packaging/debian/postrm "$root/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: certfs
Version: $version
Architecture: $arch
Maintainer: certfs developers <certfs@localhost>
Installed-Size: $size
Depends: libc6, fuse3
Section: admin
Priority: optional
Description: FUSE filesystem that manages certificates as Azure Key Vault does
 Vaults are directories; writing a policy.json creates a certificate;
 servers read fullchain.pem and privkey.pem straight from the mount.
 Private keys are sealed in the store (SQLite, or one PostgreSQL database
 for a fleet); certificates renew themselves and reload their servers.
CONTROL

dpkg-deb --root-owner-group -Zxz --build "$root" "$out/" >/dev/null
rm -rf "$root"
echo "$out/certfs_${version}_${arch}.deb"
