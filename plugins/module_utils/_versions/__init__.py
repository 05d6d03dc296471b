"""Versions: pbr/git-describe versions of a commit, NVRs, RPM and Debian version comparison.

Owns how a build's version and release come from its commit (never from the
build time) and the comparison rules (:mod:`.vercmp`, proven against rpm's
and dpkg's own).

May import: _common.
"""
