"""Packstack answer files, validated against Packstack's own keys.

May import: _common.
"""
