# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

"""Version filters: rpm_vercmp, deb_vercmp, nvr_parse, repo_path.

Each filter is documented in its own ``<name>.yml`` next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._versions import nvr, vercmp


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


def rpm_vercmp(a, b):
    """-1, 0 or 1 as rpm orders two [epoch:]version[-release] strings."""
    return _call(vercmp.rpm_vercmp, a, b)


def deb_vercmp(a, b):
    """-1, 0 or 1 as dpkg --compare-versions orders two Debian versions."""
    return _call(vercmp.deb_vercmp, a, b)


def nvr_parse(nevra):
    """Name, epoch, version, release and arch of an rpm package string."""
    return _call(nvr.nvr_parse, nevra)


def repo_path(commit_hash, distro_hash, extended_hash=None, component=None):
    """DLRN's directory of a build under repos/."""
    return _call(nvr.repo_path, commit_hash, distro_hash, extended_hash=extended_hash, component=component)


class FilterModule:
    """distroforge version filters."""

    def filters(self):
        return {
            "rpm_vercmp": rpm_vercmp,
            "deb_vercmp": deb_vercmp,
            "nvr_parse": nvr_parse,
            "repo_path": repo_path,
        }
