"""DLRN 0.26.1's own publish step for one build into an N-package distro, timed (run with DLRN's venv python).

Not a benchmark on its own: bench_publish.py runs it as the peer.  DLRN
publishes inside its build loop, so the step is isolated by calling the
two functions its loop calls after a build, on a state made to match
ours: ``post_build`` (links to every other package's newest build,
``createrepo_c`` CLI over the repo, versions.csv, delorean.repo) and
``process_build_result`` (DB update, current/consistent symlinks, the
status reports, commit.yaml).  The N packages' earlier builds are rows in
DLRN's sqlite DB with their RPMs in their commit directories, as DLRN
would have left them; the build itself is not timed.

    python dlrn_publish_peer.py WORK RPM_LIST_FILE REPEAT

prints JSON: {"seconds": [one figure per publish]}.
"""

import configparser
import hashlib
import json
import os
import shutil
import sys
import time

from dlrn.config import ConfigOptions
from dlrn.db import Commit, getSession
from dlrn.shell import post_build, process_build_result


def main(work, rpm_list, repeat):
    with open(rpm_list) as handle:
        rpms = [line.strip() for line in handle if line.strip()]
    datadir = os.path.join(work, "data")
    os.makedirs(os.path.join(datadir, "repos"))
    cp = configparser.RawConfigParser()
    cp.read_string(
        "[DEFAULT]\n"
        f"datadir={datadir}\nscriptsdir={work}\nconfigdir={work}\n"
        f"baseurl=file://{datadir}/repos\ndistro=rpm-master\nsource=master\ntarget=bench\n"
        "smtpserver=\nreponame=delorean\nproject_name=bench\nmaxretries=3\n"
        "pkginfo_driver=dlrn.drivers.rdoinfo.RdoInfoDriver\n"
        "build_driver=dlrn.drivers.mockdriver.MockBuildDriver\n"
        "tags=\nrsyncdest=\nrsyncport=22\nworkers=1\ngerrit_topic=rdo-FTBFS\n"
        f"database_connection=sqlite:///{work}/commits.sqlite\nfallback_to_master=1\n"
        "release_numbering=0.date.hash\ncustom_preprocess=\ninclude_srpm_in_repo=true\n"
    )
    ConfigOptions(cp)
    session = getSession(f"sqlite:///{work}/commits.sqlite")
    packages = []

    def commit_for(index, seq):
        name = f"pkg{index:03d}"
        commit_hash = hashlib.sha1(f"{name}-{seq}".encode()).hexdigest()
        distro_hash = hashlib.sha1(f"distgit-{name}-{seq}".encode()).hexdigest()
        commit = Commit(
            dt_commit=1700000000 + seq * 1000 + index,
            dt_distro=1700000000,
            dt_build=1700000000 + seq * 1000 + index,
            project_name=name,
            commit_hash=commit_hash,
            distro_hash=distro_hash,
            commit_branch="master",
            status="SUCCESS",
            type="rpm",
            component=None,
            notes="OK",
            flags=0,
        )
        rel = os.path.join("repos", commit.getshardedcommitdir())
        os.makedirs(os.path.join(datadir, rel))
        shutil.copy2(rpms[index], os.path.join(datadir, rel))
        artifacts = [os.path.join(rel, os.path.basename(rpms[index]))]
        return commit, artifacts

    for index in range(len(rpms)):
        packages.append(
            {
                "name": f"pkg{index:03d}",
                "upstream": f"https://example.org/pkg{index:03d}",
                "master-distgit": f"https://example.org/pkg{index:03d}-distgit",
            }
        )
        commit, artifacts = commit_for(index, 0)
        commit.artifacts = ",".join(artifacts)
        session.add(commit)
    session.commit()

    seconds = []
    for seq in range(1, repeat + 1):
        commit, artifacts = commit_for(seq - 1, seq)  # as the build left it: own RPM in place
        session.add(commit)
        session.commit()
        status = [commit, artifacts, "OK", None]
        started = time.perf_counter()
        failures = post_build(status, packages, session)
        process_build_result(status, packages, session, [], consistent=(failures == 0), failures=failures)
        seconds.append(time.perf_counter() - started)
        current = os.path.join(datadir, "repos", "current")
        count = len([name for name in os.listdir(current) if name.endswith(".rpm")])
        assert count == len(rpms) and os.path.exists(os.path.join(current, "repodata", "repomd.xml")), count
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
