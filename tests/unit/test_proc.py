import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.proc import last_error_line, run


def test_root_cause_beats_the_generic_wrapper():
    out = (
        "I: running apt-get update...\n"
        "E: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect\n"
        "E: mmdebstrap failed to run\n"
    )
    assert last_error_line(out).startswith("E: Failed to fetch")


def test_rpmbuild_style_error_line():
    out = "Executing(%prep)\nerror: File /x/foo.tar.gz: No such file or directory\nRPM build errors:\n"
    assert last_error_line(out) == "error: File /x/foo.tar.gz: No such file or directory"


def test_falls_back_to_last_line():
    assert last_error_line("one\ntwo\n\n") == "two"
    assert last_error_line("") == ""


def test_failure_message_names_the_step_and_keeps_the_output():
    with pytest.raises(CommandError) as err:
        run(["sh", "-c", "echo progress; echo 'error: broken spec' >&2; exit 3"], what="building foo")
    assert str(err.value) == "building foo failed (rc 3): error: broken spec"
    assert err.value.details["rc"] == 3
    assert "progress" in err.value.details["stdout_tail"]


def test_missing_command_and_timeout_are_one_line_errors():
    with pytest.raises(CommandError, match="command not found: no-such-tool"):
        run(["no-such-tool"])
    with pytest.raises(CommandError, match="timed out after 0 s"):
        run(["sleep", "5"], timeout=0.2)
    assert run(["false"], check=False).rc == 1
