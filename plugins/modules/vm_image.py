#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_image
short_description: Build a bootable VM disk image locally from a Debian mirror
version_added: 0.1.0
description:
  - Builds a root filesystem with C(mmdebstrap) (the image's packages plus a kernel,
    an initramfs, systemd, sshd, Python and sudo), then an ext4 file system from it
    with C(mke2fs -d) and a qcow2 disk with C(qemu-img), next to the kernel and
    initramfs copied out of it. qemu boots that kernel directly with the disk as
    its root, so the disk needs no partition table or boot loader.
  - The image lives in C(<cache_dir>/vm/<name>-<hash>), where the hash covers every
    input; an image whose directory exists is not rebuilt, so a second run reports
    no change, and changing any input builds a new image.
  - A failed build leaves nothing in the cache.
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.debian_image
options:
  name:
    description: Short name of the image, used in its directory name.
    type: str
    required: true
  packages:
    description: Packages to include besides what every VM needs.
    type: list
    elements: str
    default: []
  ca_certificates:
    description:
      - PEM CA certificate files on the controller the image trusts besides Debian's.
      - Their content is part of the image's inputs.
    type: list
    elements: path
    default: []
  cache_dir:
    description: Directory holding the images (in C(vm/)) and the root filesystems while they are built.
    type: path
    default: /var/cache/distroforge/images
  timeout:
    description: Seconds allowed for each step (mmdebstrap, mke2fs, qemu-img).
    type: int
    default: 1800
attributes:
  check_mode:
    support: full
    description: Reports whether the image would be built, builds nothing.
  diff_mode:
    support: none
    description: Disk images have no textual diff.
requirements:
  - mmdebstrap
  - e2fsprogs (mke2fs)
  - qemu-utils (qemu-img)
"""

EXAMPLES = r"""
- name: Build the disk image of the libvirt driver's nodes
  distroforge.openstack.vm_image:
    name: bookworm
    packages: [ca-certificates, python3-apt]
  register: vm_image
"""

RETURN = r"""
directory:
  description: Directory of the image.
  returned: always
  type: str
  sample: /var/cache/distroforge/images/vm/bookworm-0123456789ab
disk:
  description: The qcow2 disk (the nodes' backing file).
  returned: always
  type: str
kernel:
  description: The kernel qemu boots.
  returned: always
  type: str
initrd:
  description: The initramfs qemu boots.
  returned: always
  type: str
inputs_hash:
  description: sha256 of the image inputs; its first 12 characters are in the directory name.
  returned: always
  type: str
duration:
  description: Seconds the build took.
  returned: when the image was built
  type: float
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import vm_image
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.podman_image import (
    DEBIAN_IMAGE_OPTIONS,
    ImageSpec,
)


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    spec = ImageSpec(
        name=params["name"],
        suite=params["suite"],
        mirror=params["mirror"],
        variant=params["variant"],
        packages=tuple(params["packages"]),
        components=tuple(params["components"]),
        ca_certificates=tuple(params["ca_certificates"]),
    )
    spec.validate(f"VM image '{params['name']}'")
    return vm_image.build(spec, params["cache_dir"], timeout=params["timeout"], check_mode=module.check_mode)


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            **DEBIAN_IMAGE_OPTIONS,
            "packages": {"type": "list", "elements": "str", "default": []},
            "ca_certificates": {"type": "list", "elements": "path", "default": []},
            "cache_dir": {"type": "path", "default": "/var/cache/distroforge/images"},
            "timeout": {"type": "int", "default": 1800},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
