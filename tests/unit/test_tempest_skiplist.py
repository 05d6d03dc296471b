"""Skip lists as data: validation, filtering by release and scenario, expiry."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.distroforge.openstack.plugins.filter import tempest_skiplist as skiplist

TOP = Path(__file__).resolve().parents[2]
ROLE_SKIPLIST = TOP / "roles" / "tempest_run" / "files" / "skiplist.yml"
CREDENTIALS_TEST = (
    "tempest.api.identity.admin.v3.test_credentials.CredentialsTestJSON.test_credentials_create_get_update_delete"
    "[id-7cd59bf9-bda4-4c72-9467-d21cab278355,smoke]"
)


def entry(**overrides):
    base = {"test": r"^tempest\.api\.identity\.v3\.test_x\.X\.test_a", "reason": "broken", "bug": "https://bugs/1"}
    base.update(overrides)
    return base


def test_the_role_skip_list_holds_the_credentials_failure_with_reason_and_bug():
    document = yaml.safe_load(ROLE_SKIPLIST.read_text())
    selection = skiplist.select(document, "zed", "scenario001", "2026-11-26", str(ROLE_SKIPLIST))
    assert selection.expired == []
    (skip,) = selection.active
    assert skiplist.re.search(skip["test"], CREDENTIALS_TEST)
    assert "400" in skip["reason"] and "blob" in skip["reason"]
    assert skip["bug"].startswith("https://")
    assert skip["expires"] == "2027-06-30"
    # Other releases do not skip it.
    assert skiplist.select(document, "2024.1", "scenario001", "2026-11-26").active == []


@pytest.mark.parametrize(
    ("releases", "scenarios", "release", "scenario", "applies"),
    [
        (None, None, "zed", "scenario001", True),
        (["zed"], None, "zed", "scenario002", True),
        (["zed", "antelope"], ["scenario001"], "antelope", "scenario001", True),
        (["zed"], None, "antelope", "scenario001", False),
        (None, ["scenario002"], "zed", "scenario001", False),
        (["zed"], ["scenario001"], "", "", False),
        ("zed", "scenario001", "zed", "scenario001", True),  # a single name is a one-item list
    ],
)
def test_entries_apply_by_release_and_scenario(releases, scenarios, release, scenario, applies):
    document = {"skips": [entry(releases=releases, scenarios=scenarios)]}
    selection = skiplist.select(document, release, scenario, "2026-01-01")
    assert len(selection.active) == int(applies)
    assert selection.not_applicable == int(not applies)


@pytest.mark.parametrize(
    ("expires", "today", "expired"),
    [
        ("2026-06-30", "2026-06-30", False),  # valid through its last day
        ("2026-06-30", "2026-07-01", True),
        (datetime.date(2026, 6, 30), "2026-07-01", True),  # unquoted YAML dates load as dates
        (None, "2099-01-01", False),
        ("", "2099-01-01", False),
    ],
)
def test_expiry(expires, today, expired):
    selection = skiplist.select({"skips": [entry(expires=expires)]}, "zed", "scenario001", today, "skips.yml")
    assert len(selection.expired) == int(expired)
    assert len(selection.active) == int(not expired)


def test_an_expired_entry_names_itself_its_expiry_and_the_file():
    document = {"skips": [entry(expires="2026-06-30", bug="https://launchpad.net/bugs/42")]}
    (item,) = skiplist.select(document, "zed", "", "2026-07-01", "roles/tempest_run/files/skiplist.yml").expired
    message = item["message"]
    assert "\n" not in message
    assert "roles/tempest_run/files/skiplist.yml" in message
    assert r"^tempest\.api\.identity\.v3\.test_x\.X\.test_a" in message
    assert "2026-06-30" in message and "https://launchpad.net/bugs/42" in message


def test_an_expired_entry_for_another_release_does_not_fail_this_run():
    document = {"skips": [entry(expires="2020-01-01", releases=["wallaby"])]}
    selection = skiplist.select(document, "zed", "scenario001", "2026-07-01")
    assert selection.expired == [] and selection.not_applicable == 1


def test_today_defaults_to_the_current_date():
    tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).date().isoformat()
    assert skiplist.select({"skips": [entry(expires=tomorrow)]}).active
    assert skiplist.select({"skips": [entry(expires="2000-01-01")]}).expired


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"skips": [{"test": "x", "reason": "r"}]}, r"skips\[0\]: 'bug' is missing"),
        ({"skips": [entry(reason="  ")]}, "'reason' is missing"),
        ({"skips": [entry(expires="30/06/2026")]}, "write it as YYYY-MM-DD"),
        ({"skips": [entry(test="tempest.api(")]}, "not a valid regular expression"),
        ({"skips": [entry(expiry="2026-01-01")]}, r"unknown key\(s\) expiry"),
        ({"skips": [entry(releases={"zed": 1})]}, "releases: expected a list"),
        ({"skips": ["tempest.api.x"]}, "expected a mapping"),
        (["tempest.api.x"], "expected a mapping with a list 'skips'"),
    ],
)
def test_malformed_lists_name_the_file_entry_and_field(document, message):
    with pytest.raises(skiplist.SkipListError, match=message) as error:
        skiplist.select(document, "zed", "scenario001", "2026-01-01", "my-skips.yml")
    assert str(error.value).startswith("my-skips.yml")


def test_empty_documents_skip_nothing():
    for document in (None, "", {"skips": []}, {"skips": None}):
        assert skiplist.select(document).as_dict() == {"active": [], "expired": [], "not_applicable": 0}


def test_the_filter_turns_errors_into_ansible_errors():
    assert skiplist.FilterModule().filters()["tempest_skiplist"] is skiplist.tempest_skiplist
    with pytest.raises(AnsibleFilterError, match="'bug' is missing"):
        skiplist.tempest_skiplist({"skips": [{"test": "x", "reason": "r"}]}, "zed", "", "", "f.yml")
    result = skiplist.tempest_skiplist({"skips": [entry()]}, "zed", "scenario001", "2026-01-01")
    assert result["active"][0]["reason"] == "broken" and result["active"][0]["expires"] == ""
