"""In CI a test may skip only for a reason listed in tests/allowed_skips.yml; elsewhere skips stay skips."""

from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]
POLICY = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = """
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="needs a working KVM")
def test_listed():
    pass

@pytest.mark.skipif(True, reason="sbuild is not installed")
def test_unlisted_mark():
    pass

def test_unlisted_call():
    pytest.skip("PyPI is not reachable")

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(POLICY.read_text())
    (pytester.path / "allowed_skips.yml").write_text(
        "allowed:\n  - reason: '^needs a working KVM'\n    why: TCG only in CI\n"
    )
    pytester.makepyfile(test_sample=TESTS)
    return pytester


def test_in_ci_an_unlisted_skip_fails_naming_the_file(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # a skip mark fails at setup (an error), a skip call in the test (a failure): either fails the run
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 2, outcomes
    assert (outcomes["passed"], outcomes["skipped"], outcomes["xfailed"]) == (1, 1, 1), outcomes
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*not listed in tests/allowed_skips.yml*sbuild is not installed*"])
    result.stdout.fnmatch_lines(["*not listed in tests/allowed_skips.yml*PyPI is not reachable*"])


def test_outside_ci_skips_stay_skips(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_the_project_list_is_valid():
    listed = yaml.safe_load((POLICY.parent / "allowed_skips.yml").read_text())
    for entry in listed["allowed"]:
        assert entry["reason"] and entry["why"], entry
