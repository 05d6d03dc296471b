# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations


class ModuleDocFragment:
    """Where a node image's Debian comes from: the options node_image and vm_image share.

    The argument spec is ``_nodes.podman_image.DEBIAN_IMAGE_OPTIONS``; a unit test keeps the two equal.
    """

    DOCUMENTATION = r"""
options:
  suite:
    description: Debian suite to bootstrap.
    type: str
    default: bookworm
  mirror:
    description: Debian mirror URL.
    type: str
    default: http://deb.debian.org/debian
  variant:
    description: mmdebstrap variant.
    type: str
    default: minbase
  components:
    description: Archive components.
    type: list
    elements: str
    default: [main]
"""
