# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations


class ModuleDocFragment:
    """How a published repository is named and reached: the options repo_publish, repo_purge and repo_promote share.

    The argument spec is ``_publish.options.REPO_OPTIONS``; a unit test keeps the two equal.
    """

    DOCUMENTATION = r"""
options:
  baseurl:
    description:
      - Public URL of O(repos_dir), as clients reach it; defaults to C(file://<repos_dir>).
      - M(distroforge.openstack.repo_publish) writes it in C(.repo) and C(.list) files;
        M(distroforge.openstack.repo_purge) and M(distroforge.openstack.repo_promote) read aggregate
        C(.repo) files with it. Give all three the same value.
    type: str
  reponame:
    description:
      - Name of the repository file and section (C(delorean.repo) by default, for DLRN compatibility).
      - The same for M(distroforge.openstack.repo_publish), M(distroforge.openstack.repo_purge) and
        M(distroforge.openstack.repo_promote).
    type: str
    default: delorean
  use_components:
    description:
      - Builds are published per component, with an aggregate repository, as DLRN's C(use_components).
      - Give M(distroforge.openstack.repo_purge) and M(distroforge.openstack.repo_promote) the value
        M(distroforge.openstack.repo_publish) used.
    type: bool
    default: false
"""
