#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tempest_results
short_description: Turn Tempest's subunit streams into a verdict, JSON, JUnit and HTML
version_added: 0.1.0
description:
  - Reads the subunit v2 streams of a Tempest (or any stestr) run and its reruns
    and returns a summary with counts, the verdict, the slowest tests and the
    failures with an excerpt of their traceback.
  - A test that failed and then passed in a later stream (a rerun) is C(flaky),
    not failed; one that failed in its last stream is failed. A C(setUpClass)
    failure counts as one failed test of that class, and as flaky when the
    class's tests ran in a later stream.
  - Optionally writes a JSON document, a JUnit XML file (suite O(suite_name),
    per-phase test cases in suite C(distroforge.phases)) and a self-contained
    HTML page (failures first, sortable, searchable; C(?q=words) in the URL
    fills the search box).
  - Damaged streams (truncated, bad CRC, bytes that are not subunit, empty
    file, not subunit at all) never make the module fail; every intact packet
    is read and each damaged region is returned in RV(corruption) with its
    offset. The verdict RV(summary.success) is then false.
  - Decide what to do with the verdict in the playbook, for example with
    C(failed_when); C(tempest run --subunit) exits 0 even when tests fail.
author:
  - distroforge developers (@distroforge)
options:
  src:
    description:
      - Subunit v2 files on the target host, the first run first, then its reruns in order.
      - For example the output of C(tempest run --subunit) or C(stestr last --subunit).
    type: list
    elements: path
    required: true
  junit:
    description: Where to write the JUnit XML file. Its directory must exist.
    type: path
  html:
    description: Where to write the HTML page. Its directory must exist.
    type: path
  json:
    description: Where to write the JSON document (summary, corruption, streams and every test, failures first).
    type: path
  phases:
    description:
      - Results of other steps of the job (deploy, idempotency, ...), shown before
        the tests in HTML and JSON and written as JUnit test cases of class C(distroforge.phases).
      - "Each is a dict with C(name) (required, for example C(deploy)), C(status) (required:
        C(passed), C(failed) or C(skipped)), C(duration) (seconds), C(message) (one line telling
        why it failed or was skipped) and C(details) (longer text, such as the tail of its log)."
      - The keys are checked by the module rather than declared as suboptions because
        C(message) is a name Ansible reserves for module arguments.
      - A failed phase makes RV(summary.success) false.
    type: list
    elements: dict
    default: []
  suite_name:
    description: Name of the JUnit test suite of the tests (and of the C(testsuites) element).
    type: str
    default: tempest
  title:
    description: Title of the HTML page.
    type: str
    default: Tempest results
  slowest:
    description: How many of the slowest tests RV(summary.slowest) lists.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads and parses the streams and reports which files would change, without writing them.
  diff_mode:
    support: none
    description: The reports are too large for a useful diff.
notes:
  - Output files are written aside and renamed into place, and only when their content changes.
  - The subunit parser is the collection's own (much faster than python-subunit's on
    big runs); its unit tests prove it yields the same events as python-subunit.
seealso:
  - name: stestr
    description: The test runner Tempest uses; its streams are what this module reads.
    link: https://stestr.readthedocs.io/
  - name: subunit
    description: The subunit v2 protocol.
    link: https://github.com/testing-cabal/subunit
"""

EXAMPLES = r"""
- name: Summarize the Tempest run and its rerun, and write the reports
  distroforge.openstack.tempest_results:
    src:
      - /var/log/tempest/tempest.subunit
      - /var/log/tempest/tempest-rerun.subunit
    junit: /var/log/tempest/tempest-results.xml
    html: /var/log/tempest/tempest-results.html
    json: /var/log/tempest/tempest-results.json
    phases:
      - name: deploy
        status: passed
        duration: 161.2
      - name: idempotency
        status: failed
        duration: 27.4
        message: second Puppet run changed 1 resource
        details: "Notice: /Stage[main]/Keystone/File[/etc/keystone/keystone.conf]: content changed"
  register: tempest

- name: Fail the job when Tempest did not pass
  ansible.builtin.assert:
    that: tempest.summary.success
    fail_msg: >-
      Tempest did not pass: {{ tempest.summary.reasons | join('; ') }}
"""

RETURN = r"""
summary:
  description:
    - Counts over all streams, one verdict per test (its last attempt).
    - On a single stream, RV(summary.total), RV(summary.failed) and RV(summary.skipped) equal
      C(subunit-stats)'s, whose "passed" is RV(summary.passed) + RV(summary.xfail) + RV(summary.uxsuccess).
  returned: always
  type: dict
  contains:
    total:
      description: Tests seen (unique test ids, fixture failures such as C(setUpClass (...)) included).
      type: int
    passed:
      description: Tests that passed on their only attempt.
      type: int
    failed:
      description: Tests whose last attempt failed or never finished.
      type: int
    skipped:
      description: Skipped tests.
      type: int
    flaky:
      description: Tests that failed, then passed in a later stream.
      type: int
    xfail:
      description: Expected failures.
      type: int
    uxsuccess:
      description: Unexpected successes (they make the run unsuccessful, as in stestr).
      type: int
    duration:
      description: Seconds from the first to the last timestamp of each stream, added up.
      type: float
    success:
      description:
        - True when at least one test ran (a skipped test did not run), none failed or unexpectedly succeeded,
          no phase failed and no stream is damaged (the collection's one verdict rule, the one the
          C(distroforge.openstack.run_verdict) filter judges with). A run whose every test was skipped is not a success.
      type: bool
    reasons:
      description:
        - Why RV(summary.success) is false, one phrase each, such as "no tests ran (5 skipped)"; empty when it is true.
      type: list
      elements: str
    corrupt:
      description: Whether any stream is damaged (see RV(corruption)).
      type: bool
    failed_phases:
      description: Names of the failed phases.
      type: list
      elements: str
    phases:
      description: The phases as given, with C(name), C(status), C(duration), C(message), C(details).
      type: list
      elements: dict
    slowest:
      description: The slowest tests, slowest first, with C(test_id) and C(duration).
      type: list
      elements: dict
    failures:
      description:
        - Failed tests and unexpected successes with C(test_id), C(classname), C(name), C(outcome),
          C(attempts), C(message) (the telling line) and C(excerpt) (the end of the traceback).
      type: list
      elements: dict
    flaky_tests:
      description: Flaky tests with C(test_id), C(attempts) and the C(message) of their failure.
      type: list
      elements: dict
  sample:
    total: 152
    passed: 128
    failed: 1
    skipped: 22
    flaky: 1
    xfail: 0
    uxsuccess: 0
    duration: 91.3
    success: false
    reasons: [1 test(s) failed]
    corrupt: false
    failed_phases: []
    failures:
      - test_id: tempest.api.identity.test_tokens.TokensTest.test_token[id-6f8e4436-fc96-4282-8122-e41df57197a9]
        classname: tempest.api.identity.test_tokens.TokensTest
        name: test_token
        outcome: failed
        attempts: 2
        message: "tempest.lib.exceptions.BadRequest: Bad request"
corruption:
  description: Damaged regions of the streams, in file order; empty when every stream is intact.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: The stream the region is in.
      type: str
    offset:
      description: Byte offset where the damage starts.
      type: int
    length:
      description: Bytes skipped until the next valid packet (or the end of the file).
      type: int
    reason:
      description: What was wrong, for example C(bad CRC) or C(truncated packet).
      type: str
  sample:
    - file: /var/log/tempest/tempest.subunit
      offset: 48213
      length: 97
      reason: "truncated packet: length 140, only 97 bytes left"
changed_files:
  description: Which of C(json), C(junit), C(html) were (or in check mode would be) rewritten.
  returned: always
  type: list
  elements: str
  sample: [json, junit, html]
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._tempest.outputs import run


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    return run(
        params["src"],
        junit_path=params["junit"],
        html_path=params["html"],
        json_path=params["json"],
        phases=params["phases"],
        suite_name=params["suite_name"],
        title=params["title"],
        slowest=params["slowest"],
        check_mode=module.check_mode,
    )


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "src": {"type": "list", "elements": "path", "required": True},
            "junit": {"type": "path"},
            "html": {"type": "path"},
            "json": {"type": "path"},
            # Keys checked by the engine (load_phases): Ansible reserves the name "message".
            "phases": {"type": "list", "elements": "dict", "default": []},
            "suite_name": {"type": "str", "default": "tempest"},
            "title": {"type": "str", "default": "Tempest results"},
            "slowest": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    if module.params["slowest"] < 0:
        module.fail_json(msg=f"slowest must be 0 or more, got {module.params['slowest']}")
    module.run(_work)


if __name__ == "__main__":
    main()
