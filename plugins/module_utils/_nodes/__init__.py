"""Test nodes: plans (names, addresses, groups) and locally built node images.

Owns turning ``node_provision_nodes`` into a checked plan (:mod:`.plan`) and
building podman images from mmdebstrap, cached by the hash of their inputs
(:mod:`.podman_image`).

May import: _common.
"""
