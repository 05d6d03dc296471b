#!/usr/bin/env bash
# Proof on a fresh machine: bootstrap and run the unit suite inside a new,
# minimal Debian 12 root that holds nothing but what a user needs to clone
# and type `make` (git, make, ca-certificates). A system package the tests
# need but requirements/debian.txt does not list fails here, not on a
# user's machine.
#   tools/fresh_root_check.sh [ROOT_DIR] [PYTEST_ARGS...]
# Needs root (mmdebstrap, chroot, mounts). The root is rebuilt each time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$top/build/fresh-root}
shift || true
pytest_args=("$@")
[ "${#pytest_args[@]}" -gt 0 ] || pytest_args=(tests/unit)
mirror=${DISTROFORGE_MIRROR:-http://deb.debian.org/debian}

say() { printf 'fresh-root: %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { say "run as root"; exit 2; }

started=$(date +%s)
if [ "${DISTROFORGE_FRESH_REUSE:-0}" = 1 ] && [ -x "$root/usr/bin/make" ]; then
  # Only to debug this script: the root keeps what earlier runs installed.
  say "reusing $root (DISTROFORGE_FRESH_REUSE=1: not a fresh-machine proof)"
else
  say "creating a minimal Debian 12 root in $root"
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  mmdebstrap --quiet --variant=minbase --include=git,make,ca-certificates bookworm "$root" "$mirror"
fi

# What the machine itself brings, not the project: its CA certificates (a
# TLS-inspecting proxy may sit between it and PyPI), pip's settings, DNS.
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
for conf in /etc/pip.conf /etc/xdg/pip /etc/resolv.conf /etc/hosts; do
  [ -e "$conf" ] && { mkdir -p "$root$(dirname "$conf")"; cp -a "$conf" "$root$conf"; }
done
chroot "$root" update-ca-certificates >/dev/null 2>&1 || true

say "copying the checkout (tracked and new files, no build output)"
rm -rf "$root/src" && mkdir -p "$root/src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard) \
  | rsync -a --ignore-missing-args --from0 --files-from=- "$top/" "$root/src/"
(cd "$root/src" && git init -q && git add -A && git -c user.name=check -c user.email=check@localhost commit -qm fresh)
# Real third-party data the tests read and the DLRN harness the side-by-side tests drive
# (../shared/data and ../shared/bench next to the checkout, as CI has them).
for part in data bench; do
  if [ -d "$top/../shared/$part" ]; then
    mkdir -p "$root/shared" && cp -a "$top/../shared/$part" "$root/shared/"
  fi
done

say "bootstrapping and running pytest ${pytest_args[*]} inside it"
# A private mount namespace whose root is the new root (pivot_root, not
# chroot: the kernel refuses user namespaces - sbuild's unshare mode - to a
# chrooted process); /proc, /sys, /dev and /run go away with it.
set +e
unshare --mount --fork -- bash -euo pipefail -c '
  root=$1; shift
  mount --make-rprivate /
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root/.oldroot"
  cd "$root"
  pivot_root . .oldroot
  cd /
  umount -l /.oldroot
  exec /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CI=true \
    bash -euo pipefail -c "cd /src && make bootstrap example && PATH=/src/.venv/bin:\$PATH .venv/bin/pytest -q -p no:cacheprovider \"\$@\"" check "$@"
' fresh "$root" "${pytest_args[@]}"
rc=$?
say "done in $(( $(date +%s) - started )) s (rc $rc)"
exit $rc
