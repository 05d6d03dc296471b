#!/usr/bin/env bash
# Bootstrap a Debian 12 machine for distroforge: system packages, the pinned
# venv, the collection linked from the working tree, and the offline
# stand-in ansible-test needs. Safe to rerun; does nothing when all is there.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/.venv"
lock="$top/requirements/python.lock"
debian_list="$top/requirements/debian.txt"

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages), or with sudo"
[ -r /etc/debian_version ] || die "this bootstrap supports Debian 12 only"

# 1. Debian packages: install only what is missing.
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "$debian_list")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed \
    || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: check /etc/apt/sources.list and the mirror"
  apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
fi

# 2. Unprivileged user namespaces for root (sbuild unshare mode, rootless tools).
for f in /etc/subuid /etc/subgid; do
  grep -q '^root:' "$f" 2>/dev/null || echo 'root:100000:65536' >> "$f"
done

# 3. The venv, from Debian's python3 so the python3-rpm bindings match.
stamp="$venv/.lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating $venv from requirements/python.lock"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$lock" 2>&1 \
    | grep -v 'is ignored: it is neither' || true
  "$venv/bin/python" -c 'import ansible, molecule, distroinfo, subunit, createrepo_c, rpm' \
    || die "venv is incomplete: remove .venv and run make again"
  echo "$want" > "$stamp"
fi

# 4. The collection, importable as distroforge.openstack from the working tree.
coll="$venv/collections/ansible_collections/distroforge"
mkdir -p "$coll"
if [ "$(readlink "$coll/openstack" 2>/dev/null)" != "$top" ]; then
  ln -sfn "$top" "$coll/openstack"
fi

# 5. ansible-test downloads get-pip from a host we cannot reach: give it an
#    offline stand-in that bootstraps pip with ensurepip, then installs with pip.
pip_ver=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
standin="$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
if ! cmp -s "$top/tools/get_pip_standin.py" "$standin"; then
  mkdir -p "$(dirname "$standin")"
  cp "$top/tools/get_pip_standin.py" "$standin"
fi
say "ready ($venv)"
