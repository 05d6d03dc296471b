#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_image
short_description: Build a test-node image locally from a Debian mirror
version_added: 0.1.0
description:
  - Builds a root filesystem with C(mmdebstrap) and imports it into podman
    as C(localhost/distroforge/<name>:<hash>), where the hash covers every
    input (suite, mirror, variant, packages, components).
  - An image whose tag already exists is not rebuilt, so a second run
    reports no change; changing any input builds a new image.
  - A failed build leaves no partial tarball or image behind.
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.debian_image
options:
  name:
    description: Short name of the image, used in its tag.
    type: str
    required: true
  driver:
    description: Node driver the image is for. Only C(podman) images exist yet.
    type: str
    choices: [podman]
    default: podman
  packages:
    description: Packages to include on top of the variant.
    type: list
    elements: str
    default: []
  ca_certificates:
    description:
      - PEM CA certificate files on the controller that the image trusts besides Debian's
        (copied to C(/usr/local/share/ca-certificates/distroforge/), then C(update-ca-certificates)),
        e.g. the CA of a TLS-intercepting proxy between the nodes and PyPI.
      - Their content is part of the image's inputs.
    type: list
    elements: path
    default: []
  cache_dir:
    description: Directory for temporary root filesystems.
    type: path
    default: /var/cache/distroforge/images
  timeout:
    description: Seconds allowed for each of mmdebstrap and the import.
    type: int
    default: 900
attributes:
  check_mode:
    support: full
    description: Reports whether the image would be built, builds nothing.
  diff_mode:
    support: none
    description: Images have no textual diff.
requirements:
  - mmdebstrap
  - podman
"""

EXAMPLES = r"""
- name: Build the node image used by the podman driver
  distroforge.openstack.node_image:
    name: bookworm
    packages: [systemd, systemd-sysv, dbus, iproute2, python3, ca-certificates]
  register: node_image
"""

RETURN = r"""
image:
  description: Local image reference.
  returned: always
  type: str
  sample: localhost/distroforge/bookworm:0123456789ab
inputs_hash:
  description: sha256 of the image inputs; its first 12 characters are the tag.
  returned: always
  type: str
duration:
  description: Seconds the build took.
  returned: when the image was built
  type: float
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import podman_image
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.podman_image import DEBIAN_IMAGE_OPTIONS


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    spec = podman_image.ImageSpec(
        name=params["name"],
        suite=params["suite"],
        mirror=params["mirror"],
        variant=params["variant"],
        packages=tuple(params["packages"]),
        components=tuple(params["components"]),
        ca_certificates=tuple(params["ca_certificates"]),
    )
    spec.validate(f"node image '{params['name']}'")
    return podman_image.build(spec, params["cache_dir"], timeout=params["timeout"], check_mode=module.check_mode)


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "driver": {"type": "str", "choices": ["podman"], "default": "podman"},
            **DEBIAN_IMAGE_OPTIONS,
            "packages": {"type": "list", "elements": "str", "default": []},
            "ca_certificates": {"type": "list", "elements": "path", "default": []},
            "cache_dir": {"type": "path", "default": "/var/cache/distroforge/images"},
            "timeout": {"type": "int", "default": 900},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
