"""Offline stand-in for ansible-test's get-pip script.

ansible-test bootstraps pip in each sanity venv from a script it downloads
from ci-files.testing.ansible.com, which these machines cannot reach.  This
script takes its place: pip comes from ensurepip, then the requested
packages are installed from PyPI with the system CA bundle.
"""

import ensurepip
import os
import subprocess
import sys

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def main() -> int:
    ensurepip.bootstrap(upgrade=True)
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    cmd = [sys.executable, "-m", "pip", "install"]
    if os.path.exists(CA_BUNDLE):
        cmd += ["--cert", CA_BUNDLE]
    return subprocess.call(cmd + args)


if __name__ == "__main__":
    sys.exit(main())
