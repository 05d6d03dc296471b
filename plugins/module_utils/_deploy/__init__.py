"""Deploying OpenStack on a node with Puppet: applies, their phases and summaries.

Owns running ``puppet apply`` with a time limit, reading its summary and
report into a phase (deploy, idempotency) that results and JUnit take as is.

May import: _common.
"""
