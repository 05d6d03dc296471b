"""In CI a test may skip only for a reason listed in tests/allowed_skips.yml; elsewhere skips stay skips."""

import os
import shutil
import subprocess
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


# Files that skip while pytest imports them: no test of theirs ever reaches a test report.
MODULES_THAT_SKIP = {
    "test_runs": "def test_runs():\n    pass\n",
    "test_module_listed": 'import pytest\npytest.skip("needs a working KVM", allow_module_level=True)\n',
    "test_module_unlisted": 'import pytest\npytest.skip("sbuild is not installed", allow_module_level=True)\n',
    "test_module_import": 'import pytest\nsbuild = pytest.importorskip("a_module_nobody_installed")\n',
}


def policy(pytester):
    pytester.makeconftest(POLICY.read_text())
    (pytester.path / "allowed_skips.yml").write_text(
        "allowed:\n  - reason: '^needs a working KVM'\n    why: TCG only in CI\n"
    )
    return pytester


@pytest.fixture
def suite(pytester):
    policy(pytester).makepyfile(test_sample=TESTS)
    return pytester


@pytest.fixture
def modules_that_skip(pytester):
    policy(pytester).makepyfile(**MODULES_THAT_SKIP)
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


def test_in_ci_a_module_that_skips_while_imported_fails(modules_that_skip, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = modules_that_skip.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # failed collections interrupt the run as an import error does; the listed reason stays a skip
    assert (outcomes.get("errors"), outcomes.get("skipped")) == (2, 1), outcomes
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*not listed in tests/allowed_skips.yml*sbuild is not installed*"])
    result.stdout.fnmatch_lines(["*not listed in tests/allowed_skips.yml*could not import*a_module_nobody_installed*"])


def test_outside_ci_a_module_that_skips_while_imported_stays_skipped(modules_that_skip, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = modules_that_skip.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == 0


def test_ci_run_sets_ci_itself(tmp_path, monkeypatch):
    # .ci/run is what every CI system calls: the policy must hold where that system does not set CI
    (tmp_path / ".ci").mkdir()
    shutil.copy(POLICY.parents[1] / ".ci" / "run", tmp_path / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(f'#!/bin/sh\necho "CI=${{CI:-unset}} make $*" >> {tmp_path / "make.log"}\n')
    make.chmod(0o755)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    subprocess.run([tmp_path / ".ci" / "run"], check=True)
    assert (tmp_path / "make.log").read_text().splitlines() == ["CI=true make bootstrap", "CI=true make test"]


def test_the_project_list_is_valid():
    listed = yaml.safe_load((POLICY.parent / "allowed_skips.yml").read_text())
    for entry in listed["allowed"]:
        assert entry["reason"] and entry["why"], entry
