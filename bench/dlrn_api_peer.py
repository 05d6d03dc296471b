"""Load a distroforge state DB into DLRN 0.26.1's own DB and write its API settings (run with DLRN's venv python).

Not a benchmark on its own: bench_api.py and the side-by-side test run it so
the real DLRN API (Flask, gunicorn) answers over the same data as ours.

    python dlrn_api_peer.py STATE_DB WORK BASEURL USER PASSWORD [ROUNDS]

creates WORK/commits.sqlite with DLRN's schema (its own ``getSession``), copies
commits, votes (``civotes``, ``civotes_agg``) and promotions with the same
ids, adds USER with DLRN's ``sha512_crypt`` hash (passlib's default rounds
unless ROUNDS is given, as ``dlrn-user create`` does), and writes
WORK/projects.ini and WORK/settings.py for ``CONFIG_FILE=WORK/settings.py
gunicorn dlrn.api:app``.  Prints JSON: {"settings": ..., "repos": ...}.
"""

import json
import os
import sqlite3
import sys

from dlrn.db import getSession
from passlib.hash import sha512_crypt


def main(state_db, work, baseurl, user, password, rounds=None):  # noqa: PLR0917 - the command line
    datadir = os.path.join(work, "data")
    repos = os.path.join(datadir, "repos")
    os.makedirs(repos, exist_ok=True)
    db_file = os.path.join(work, "commits.sqlite")
    if os.path.exists(db_file):
        os.unlink(db_file)
    getSession(f"sqlite:///{db_file}")  # DLRN creates its tables
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS src", (state_db,))  # read only: nothing below writes src
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO commits (id, type, dt_commit, dt_distro, dt_build, project_name, commit_hash, distro_hash,"
        " extended_hash, commit_branch, status, component, artifacts, notes, flags)"
        " SELECT id, 'rpm', dt_commit, dt_distgit, dt_build, project, commit_hash, distro_hash, NULL,"
        " commit_branch, status, component, NULL, notes, flags FROM src.commits"
    )
    conn.execute(
        "INSERT INTO civotes (id, commit_id, ci_name, ci_url, ci_vote, ci_in_progress, timestamp, notes, user,"
        " component) SELECT v.id, v.commit_id, v.job_id, v.url, v.success, v.in_progress, v.timestamp, v.notes,"
        " v.user, c.component FROM src.votes AS v JOIN src.commits AS c ON c.id = v.commit_id WHERE v.aggregate = 0"
    )
    conn.execute(
        "INSERT INTO civotes_agg (id, ref_hash, ci_name, ci_url, ci_vote, ci_in_progress, timestamp, notes, user)"
        " SELECT id, ref_hash, job_id, url, success, in_progress, timestamp, notes, user FROM src.votes"
        " WHERE aggregate = 1"
    )
    conn.execute(
        "INSERT INTO promotions (id, commit_id, promotion_name, timestamp, user, component, aggregate_hash)"
        " SELECT id, commit_id, label, timestamp, user, component, aggregate_hash FROM src.promotions"
        " WHERE aggregate = 0"
    )
    hasher = sha512_crypt.using(rounds=int(rounds)) if rounds else sha512_crypt
    conn.execute("INSERT INTO users (username, password) VALUES (?, ?)", (user, hasher.hash(password)))
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE src")
    conn.close()
    ini = os.path.join(work, "projects.ini")
    with open(ini, "w") as handle:
        handle.write(
            "[DEFAULT]\n"
            f"datadir={datadir}\nscriptsdir={work}\nconfigdir={work}\n"
            f"baseurl={baseurl}\ndistro=rpm-master\nsource=master\ntarget=distroforge\n"
            "smtpserver=\nreponame=delorean\nproject_name=bench\nmaxretries=3\n"
            "pkginfo_driver=dlrn.drivers.rdoinfo.RdoInfoDriver\n"
            "build_driver=dlrn.drivers.mockdriver.MockBuildDriver\n"
            "tags=\nrsyncdest=\nrsyncport=22\nworkers=1\ngerrit_topic=rdo-FTBFS\n"
            f"database_connection=sqlite:///{db_file}\nfallback_to_master=1\n"
            "release_numbering=0.date.hash\ncustom_preprocess=\ninclude_srpm_in_repo=true\n"
            "use_components=false\n"
        )
    settings = os.path.join(work, "settings.py")
    with open(settings, "w") as handle:
        handle.write(f"DB_PATH = {f'sqlite:///{db_file}'!r}\nREPO_PATH = {repos!r}\nCONFIG_FILE = {ini!r}\n")
    print(json.dumps({"settings": settings, "repos": repos, "db": db_file}))


if __name__ == "__main__":
    main(*sys.argv[1:])
