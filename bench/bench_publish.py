"""Publishing one build into a 300-package distro, against the createrepo_c CLI on the same repo.

Ours: the whole publish step (commit repo with 300 packages' links,
metadata through createrepo_c's bindings, versions.csv, commit.yaml,
current/consistent links, state DB, status report; signing off and on),
first with a cold package-metadata cache, then warm (the steady state:
only the new build's RPMs are read).  Peers, in the same run:
``createrepo_c`` (the CLI DLRN runs) indexing the same 300 RPMs, with and
without its sqlite files; and DLRN 0.26.1's own publish step for the same
build into the same 300-package distro.  DLRN publishes inside its build
loop, so its step is isolated by calling the two functions that loop calls
after a build (``post_build`` + ``process_build_result``: links,
createrepo_c, versions.csv, .repo, DB, current/consistent, reports,
commit.yaml) from DLRN's venv (dlrn_publish_peer.py), which bench/peers.py
makes from PyPI on first use (about a minute); without PyPI it is skipped
with a note.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peers
from _common import TOP, report

sys.path.insert(0, str(TOP / ".venv" / "collections"))
sys.path.insert(0, str(TOP))

from ansible_collections.distroforge.openstack.plugins.module_utils._publish import layout
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import Publisher, PublishOptions
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB
from tests.unit.pkgfactory import add_build, artifacts_dir

N = 300
SPEC_HEAD = """\
Name: distro
Version: 1.0
Release: 1
Summary: bench
License: ASL 2.0
BuildArch: noarch
%description
bench
%install
"""


def build_many(work: Path, n: int) -> list[Path]:
    """One rpmbuild making n small noarch packages (pkg000..), about a second."""
    top = work / "rpmbuild"
    body = [SPEC_HEAD]
    for i in range(n):
        body.append(
            f"mkdir -p %{{buildroot}}/usr/share/pkg{i:03d} && echo {i} > %{{buildroot}}/usr/share/pkg{i:03d}/f\n"
        )
    for i in range(n):
        body.append(
            f"%package -n pkg{i:03d}\nSummary: pkg{i:03d}\n%description -n pkg{i:03d}\npkg{i:03d}\n"
            f"%files -n pkg{i:03d}\n/usr/share/pkg{i:03d}/f\n"
        )
    spec = work / "distro.spec"
    spec.write_text("".join(body))
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)], check=True, capture_output=True)
    return sorted((top / "RPMS" / "noarch").glob("pkg*.rpm"))


def seed(work: Path, rpms: list[Path], sign: bool) -> tuple[StateDB, Publisher]:
    """A distro where 300 packages are already published (fast path: files written directly)."""
    db = StateDB(work / "state.db")
    options = PublishOptions(repos_dir=work / "data" / "repos", sign=sign, gpg_home=work / "gnupg")
    publisher = Publisher(options, db)
    lay = options.layout()
    with db.writer() as conn:
        for index, rpm in enumerate(rpms):
            record = add_build(db, f"pkg{index:03d}", 0)
            target = lay.commit_dir(record.commit_hash, record.distro_hash, None)
            target.mkdir(parents=True)
            shutil.copy2(rpm, target / rpm.name)
            (target / "commit.yaml").write_text(layout.render_commit_yaml({"status": "SUCCESS"}))
            conn.execute("UPDATE commits SET flags = flags | ? WHERE id = ?", (layout.FLAG_PUBLISHED, record.id))
    return db, publisher


def dlrn_publish(work: Path, rpms: list[Path], repeat: int = 3) -> float | None:
    """Median seconds of DLRN's own publish step for one build into the same distro, or None without DLRN."""
    try:
        dlrn_python = peers.python("dlrn")
    except (RuntimeError, OSError) as exc:
        print(f"(DLRN peer skipped: {exc})")
        return None
    listing = work / "dlrn-rpms.txt"
    listing.write_text("".join(f"{rpm}\n" for rpm in rpms))
    peer = Path(__file__).with_name("dlrn_publish_peer.py")
    proc = subprocess.run(
        [str(dlrn_python), str(peer), str(work / "dlrn"), str(listing), str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"(DLRN peer failed, rc {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]})")
        return None
    return sorted(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])[repeat // 2]


def bench(sign: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        work = Path(tmp)
        rpms = build_many(work, N)
        db, publisher = seed(work, rpms, sign)
        if sign:  # create the key outside the timing (first run only)
            publisher.publish(add_build(db, "pkg299", 1).id, artifacts_dir(work, [rpms[299]]))
        times = []
        for seq, index in enumerate((0, 1, 2), start=2):
            art = artifacts_dir(work, [rpms[index]])
            record = add_build(db, f"pkg{index:03d}", seq)
            started = time.perf_counter()
            result = publisher.publish(record.id, art)
            times.append(time.perf_counter() - started)
        current = work / "data" / "repos" / "current"
        count = len(list(current.glob("*.rpm")))
        assert result.consistent and count == N, (result, count)
        peers = {}
        for label, extra in (("createrepo_c CLI", []), ("createrepo_c CLI --no-database", ["--no-database"])):
            samples = []
            for _sample in range(3):
                out = work / "peer"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                started = time.perf_counter()
                subprocess.run(["createrepo_c", "-q", *extra, "-o", str(out), str(current)], check=True)
                samples.append(time.perf_counter() - started)
            peers[label] = sorted(samples)[1]
        db.close()
        if not sign:  # DLRN does not sign: compare with our unsigned publish
            dlrn = dlrn_publish(work, rpms)
            if dlrn is not None:
                peers["DLRN 0.26.1 publish step"] = dlrn
    what = f"publish 1 build into a {N}-package distro, signing {'on' if sign else 'off'}"
    for label, peer in peers.items():
        report(f"{what}, cold cache", times[0], peer, label)
        report(f"{what}, warm cache", sorted(times[1:])[0], peer, label)


if __name__ == "__main__":
    bench(sign=False)
    bench(sign=True)
