"""pkgdb loader on hostile or broken input: one line naming the file (package and field), never a traceback.

Each case is what a user or an attacker can put in a package database: bad encodings, fields of
the wrong type, stray '%' in template values, imports leaving the database folder, keys given twice,
alias bombs, broken YAML. The loader must either load the database or raise InputError with one
line that names the file (and the package and field when there are ones); the module must report
the same line.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import yaml
from distroinfo import info as di_info

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader

from .ansible_run import run_playbook
from .shared_dir import SHARED

TOP = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "pkgdb"
RDOINFO = SHARED / "data" / "rdoinfo"


@pytest.fixture
def db(tmp_path):
    """A writable copy of the fixture database, in a folder of its own (tmp_path/db)."""
    target = tmp_path / "db"
    shutil.copytree(FIXTURE, target)
    return target


def edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def error_of(db: Path, **kw) -> str:
    """The loader's message: InputError, one line, naming a file of the database."""
    with pytest.raises(InputError) as err:
        loader.read(str(db / "rdo-full.yml"), **kw)
    message = str(err.value)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{db}{os.sep}"), message
    return message


def loads(db: Path, **kw) -> dict[str, dict]:
    return {p["project"]: p for p in loader.read(str(db / "rdo-full.yml"), **kw).packages}


# --- encodings -------------------------------------------------------------------------------

ENCODINGS = {
    "latin-1": lambda text: text.replace("deps@", "d\u00e9ps@").encode("latin-1"),
    "utf-16": lambda text: text.encode("utf-16"),
    "binary": lambda _text: bytes(range(256)) * 4,
    "utf-8 cut inside a character": lambda text: text.replace("deps@", "d\u00e9ps@").encode()[:-10] + b"\xc3",
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_file_that_is_not_utf8(db, encoding):
    path = db / "deps.yml"
    path.write_bytes(ENCODINGS[encoding](path.read_text()))
    message = error_of(db)
    assert message.startswith(f"{path}:")
    assert "not UTF-8 text" in message and "save the file as UTF-8" in message


def test_non_utf8_names_the_line(db):
    path = db / "deps.yml"
    path.write_bytes(path.read_text().replace("deps@", "d\u00e9ps@").encode("latin-1"))
    assert error_of(db).startswith(f"{path}:7: not UTF-8 text (byte 0xe9 at offset ")


def test_utf8_with_byte_order_mark_loads(db):
    path = db / "deps.yml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert "python-pbr" in loads(db)


# --- fields of the wrong type -----------------------------------------------------------------

# (file, where in it, value, what the message must say after the file name)
RDO = "rdo.yml"
WRONG_TYPES = [
    (RDO, ("packages", 0, "conf"), ["core"], "package 'keystone': conf: must be a string, not a list"),
    (RDO, ("packages", 3, "name"), ["a", "b"], "package 'oslo-config': name: must be a string, not a list"),
    (RDO, ("packages", 3, "name"), {"a": 1}, "package 'oslo-config': name: must be a string, not a mapping"),
    (RDO, ("packages", 3, "name"), 42, "package 'oslo-config': name: must be a string, not a number; quote it"),
    (RDO, ("packages", 3, "name"), None, "package 'oslo-config': name: must be a string, not empty (null)"),
    (RDO, ("packages", 0, "upstream"), ["https://a/b"], "package 'keystone': upstream: must be a string, not a list"),
    (RDO, ("packages", 0, "source-branch"), 1.10, "package 'keystone': source-branch: must be a string, not a number"),
    (
        RDO,
        ("packages", 0, "distro-branch"),
        True,
        "package 'keystone': distro-branch: must be a string, not true/false",
    ),
    (RDO, ("packages", 0, "component"), datetime.date(2023, 1, 1), "package 'keystone': component: must be a string"),
    (RDO, ("packages", 2, "maintainers"), [7], "package 'keystonemiddleware': maintainers[0]: must be a string"),
    (RDO, ("packages", 2, "buildsys-tags"), ["x"], "package 'keystonemiddleware': buildsys-tags: must be a mapping"),
    (RDO, ("packages", 2, "buildsys-tags"), {"t": 1}, "package 'keystonemiddleware': buildsys-tags.t: must be a str"),
    (RDO, ("packages", 0, "project"), ["keystone"], "packages[0]: project: must be the upstream project name, not a "),
    (RDO, ("packages", 0, "project"), "", "packages[0]: project: must be the upstream project name, not empty"),
    (RDO, ("packages", 0), "keystone", "packages[0]: each package must be a mapping with project:, not a string"),
    (RDO, ("packages",), {"keystone": {}}, "packages: must be a list of packages, each with project:, not a mapping"),
    (RDO, ("package-default",), ["a"], "package-default: must be a mapping of package fields, not a list"),
    (RDO, ("package-default", "name"), 3, "package-default.name: must be a string, not a number"),
    (RDO, ("package-configs",), ["core"], "package-configs: must be a mapping of templates, not a list"),
    (RDO, ("package-configs", "core"), ["x"], "package-configs.core: must be a mapping of package fields, not a list"),
    (RDO, ("package-configs", "core", "upstream"), ["x"], "package-configs.core.upstream: must be a string, not a"),
    (RDO, ("package-configs", "lib", "maintainers"), None, "package-configs.lib.maintainers: must be a list, not e"),
    (RDO, ("releases",), {"zed": {}}, "releases: must be a list of releases, each with name: and repos:, not a map"),
    (RDO, ("releases", 0), "antelope", "releases[0]: must be a mapping with name: and repos:, not a string"),
    (RDO, ("releases", 0, "name"), 2023.1, "releases[0].name: must be a string, not a number; quote it"),
    (RDO, ("releases", 0, "branch"), ["a"], "releases[0].branch: must be a string, not a list"),
    (RDO, ("releases", 0, "repos"), {"el9s": {}}, "releases[0].repos: must be a list, not a mapping"),
    (RDO, ("releases", 0, "repos", 0), "el9s", "releases[0].repos[0]: must be a mapping with name:, not a string"),
    (RDO, ("releases", 0, "repos", 0, "name"), None, "releases[0].repos[0].name: must be a string, not empty"),
    (RDO, ("releases", 0, "repos", 0, "buildsys-tags"), "t", "releases[0].repos[0].buildsys-tags: must be a list"),
    (RDO, ("releases", 0, "repos", 0, "distrepos"), {"a": 1}, "releases[0].repos[0].distrepos: must be a list"),
    (RDO, ("import", 0), 7, "import[0]: 7 is not a file name relative to"),
    (
        "tags/zed.yml",
        ("packages", 0, "tags", "zed", "source-branch"),
        22.0,
        "package 'keystone': tags.zed.source-branch: must be a st",
    ),
    (
        "tags/zed.yml",
        ("packages", 0, "tags", "zed", "project"),
        "x",
        "package 'keystone': tags.zed.project: cannot be set per release",
    ),
    (
        "tags/zed.yml",
        ("packages", 0, "tags", "zed", "conf"),
        "lib",
        "package 'keystone': tags.zed.conf: cannot be set per release",
    ),
    ("tags/zed.yml", ("packages", 0, "tags"), {2023.1: None}, "package 'keystone': tags.2023.1: the release name is"),
    ("deps.yml", ("packages", 0, "extra"), b"\x00\xff", "package 'python-pbr': extra: binary data is not supp"),
    ("deps.yml", ("packages", 0, "extra"), {1: "x"}, "package 'python-pbr': extra.1: the key is a number; quote it"),
    ("deps.yml", ("x-notes",), datetime.date(2023, 1, 1), "x-notes: a date is not supported here; quote it"),
    ("deps.yml", ("remote-info",), ["x"], "remote-info: must be a mapping, not a list"),
]


# Refused on one line before too: kept so that the checks above do not lose them.
ALREADY_REFUSED = [
    (RDO, ("packages", 2, "maintainers"), {"a": "b@c"}, "package 'keystonemiddleware': maintainers: must be a list"),
    (RDO, ("packages", 2, "maintainers"), "a@b.c", "package 'keystonemiddleware': maintainers: must be a list"),
    (RDO, ("packages", 2, "tags"), ["zed"], "package 'keystonemiddleware': tags: must map release names"),
    (RDO, ("import",), {"tags.yml": 1}, "import: must be a list of file names relative to"),
    ("tags/zed.yml", ("packages", 0, "tags", "zed"), ["x"], "package 'keystone': tags.zed: must be a mapping of ove"),
]


def set_at(data, where, value):
    for key in where[:-1]:
        data = data[key]
    data[where[-1]] = value


def case_id(case) -> str:
    file, where, value, _expected = case
    return f"{file}:{'.'.join(map(str, where))}={type(value).__name__}"


@pytest.mark.parametrize(("file", "where", "value", "expected"), WRONG_TYPES, ids=[case_id(w) for w in WRONG_TYPES])
def test_field_of_the_wrong_type(db, file, where, value, expected):
    edit(db / file, lambda d: set_at(d, where, value))
    message = error_of(db, release="zed")
    assert message.startswith(f"{db / file}: {expected}"), message


@pytest.mark.parametrize(
    ("file", "where", "value", "expected"), ALREADY_REFUSED, ids=[case_id(w) for w in ALREADY_REFUSED]
)
def test_field_of_the_wrong_type_still_refused(db, file, where, value, expected):
    test_field_of_the_wrong_type(db, file, where, value, expected)


def test_key_that_is_not_a_string_at_the_top_level(db):
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + "2023: x\n")
    assert error_of(db) == f"{db / 'deps.yml'}: 2023: the top-level key is a number; quote it"


def test_unknown_field_nested_without_bound(db):
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + "  extra: " + "[" * 40 + "]" * 40 + "\n")
    assert "package 'python-pbr': extra" in error_of(db)
    assert "nested more than 32 levels deep" in error_of(db)


def test_empty_tags_loads(db):
    """Left empty, tags: means in no release (distroinfo called None.get with a release)."""
    edit(db / "deps.yml", lambda d: d["packages"][0].update(tags=None))
    assert "python-pbr" not in loads(db, release="zed")
    assert loads(db)["python-pbr"]["tags"] == []


def test_empty_package_default_loads(db):
    """Left empty, package-default: means no defaults (distroinfo called None.update)."""

    def empty_default(data):
        data["package-default"] = None
        data["packages"][2].update(name="python-keystonemiddleware", **{"master-distgit": "https://x.example/d"})
        data["packages"][3]["master-distgit"] = "https://x.example/o"

    edit(db / "rdo.yml", empty_default)
    assert loads(db)["keystonemiddleware"]["distgit"] == "https://x.example/d"


def test_message_never_spans_lines_whatever_the_value(db):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update(upstream="https://x/\nsecond line"))
    assert "upstream: 'https://x/\\nsecond line' is not a git URL" in error_of(db)


@pytest.mark.parametrize("name", ["../../etc/passwd", "a b", "-rf", "python/x"])
def test_package_names_that_would_escape_a_path(db, name):
    edit(db / "rdo.yml", lambda d: d["packages"][3].update(name=name))
    assert f"package 'oslo-config': name: {name!r} is not a package name" in error_of(db)


# --- templates: '%' that is not %(field)s ------------------------------------------------------

STRAY = ["https://x/a%2Fb", "https://x/100%", "https://x/%s", "https://x/%(project)d", "https://x/%(project)40s"]


@pytest.mark.parametrize("value", STRAY)
def test_stray_percent_in_a_package_value(db, value):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update(upstream=value))
    message = error_of(db)
    assert message.startswith(f"{db / 'rdo.yml'}: package 'keystone': upstream: {value!r} has a '%' at offset")
    assert message.endswith("write %% for a literal %")


@pytest.mark.parametrize("value", STRAY)
def test_stray_percent_in_a_template_names_the_template(db, value):
    edit(db / "rdo.yml", lambda d: d["package-configs"]["core"].update(upstream=value))
    message = error_of(db)
    assert message.startswith(f"{db / 'rdo.yml'}: package-configs.core.upstream (package 'keystone'): {value!r}")


def test_stray_percent_in_a_release_override(db):
    edit(db / "tags" / "zed.yml", lambda d: d["packages"][0]["tags"]["zed"].update({"source-branch": "v%2F"}))
    message = error_of(db, release="zed")
    assert message.startswith(f"{db / 'tags' / 'zed.yml'}: package 'keystone': tags.zed.source-branch: 'v%2F'")


def test_reference_to_a_missing_field_names_the_field(db):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update(upstream="https://x/%(nope)s"))
    assert error_of(db) == (
        f"{db / 'rdo.yml'}: package 'keystone': upstream: 'https://x/%(nope)s' refers to field 'nope', which the "
        "package does not have; fix the name or add the field"
    )


def test_doubled_percent_is_a_literal_percent(db):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update(upstream="https://x/a%%2F%(project)s"))
    assert loads(db)["keystone"]["upstream"] == "https://x/a%2Fkeystone"


# --- imports stay inside the database folder ---------------------------------------------------

OUTSIDE_PACKAGE = {
    "packages": [
        {
            "project": "planted",
            "name": "planted",
            "upstream": "https://evil.example/planted",
            "master-distgit": "https://evil.example/planted-distgit",
            "maintainers": ["x@evil.example"],
        }
    ]
}


@pytest.fixture
def outside(tmp_path):
    """A valid database file outside the database folder (tmp_path/outside.yml)."""
    path = tmp_path / "outside.yml"
    path.write_text(yaml.safe_dump(OUTSIDE_PACKAGE))
    return path


def test_import_with_dot_dot_is_refused(db, outside):
    edit(db / "deps.yml", lambda d: d.update({"import": ["../outside.yml"]}))
    assert error_of(db) == (
        f"{db / 'deps.yml'}: import[0]: '../outside.yml' leads out of the database folder {db}; "
        "imports must stay inside it"
    )


def test_import_with_dot_dot_inside_a_path_is_refused(db, outside):
    edit(db / "tags.yml", lambda d: d["import"].append("tags/../../outside.yml"))
    assert error_of(db).startswith(f"{db / 'tags.yml'}: import[2]: 'tags/../../outside.yml' leads out of")


def test_absolute_import_is_refused(db, outside):
    edit(db / "deps.yml", lambda d: d.update({"import": [str(outside)]}))
    assert error_of(db).startswith(f"{db / 'deps.yml'}: import[0]: {str(outside)!r} is an absolute path")


def test_import_through_a_symlink_out_is_refused(db, outside):
    (db / "link.yml").symlink_to(outside)
    edit(db / "deps.yml", lambda d: d.update({"import": ["link.yml"]}))
    assert "'link.yml' leads out of the database folder" in error_of(db)
    assert error_of(db).endswith("through a symbolic link; imports must stay inside it")


def test_import_through_a_symlinked_folder_out_is_refused(db, outside):
    (db / "ext").symlink_to(outside.parent)
    edit(db / "deps.yml", lambda d: d.update({"import": ["ext/outside.yml"]}))
    assert "'ext/outside.yml' leads out of the database folder" in error_of(db)


def test_import_through_a_symlink_inside_loads(db):
    (db / "current.yml").symlink_to("tags/zed.yml")
    edit(db / "tags.yml", lambda d: d.update({"import": ["current.yml", "tags/antelope.yml"]}))
    assert loads(db, release="zed")["keystone"]["source_branch"] == "22.0.2"


def test_database_reached_through_a_symlinked_folder_loads(db, tmp_path):
    (tmp_path / "via").symlink_to(db)
    assert len(loader.read(str(tmp_path / "via" / "rdo-full.yml")).packages) == 6


@pytest.mark.parametrize("name", ["", "a\x00b", "tags", "tags/", "."])
def test_import_that_is_no_file(db, name):
    edit(db / "deps.yml", lambda d: d.update({"import": [name]}))
    assert error_of(db).startswith(f"{db / 'deps.yml'}: import[0]: {name!r} is ")


def test_import_of_a_fifo_does_not_hang(db):
    os.mkfifo(db / "pipe.yml")
    edit(db / "deps.yml", lambda d: d.update({"import": ["pipe.yml"]}))
    assert error_of(db) == f"{db / 'deps.yml'}: import[0]: 'pipe.yml' is not a regular file; name the file to import"


def test_circular_import_spelt_differently(db):
    edit(db / "deps.yml", lambda d: d.update({"import": ["./tags/../rdo-full.yml"]}))
    assert error_of(db).startswith(f"{db / 'deps.yml'}: import: circular import: 'rdo-full.yml' is already being")


def test_missing_import_names_the_file_that_imports_it(db):
    """rdo-full.yml imports deps.yml; the last file read before it is tags/antelope.yml."""
    (db / "deps.yml").unlink()
    assert error_of(db) == (
        f"{db / 'deps.yml'}: no such file (imported from {db / 'rdo-full.yml'}); fix that file's import: list"
    )


def test_imports_nested_without_bound(db):
    chain = 40
    for level in range(chain):
        (db / f"chain{level}.yml").write_text(f"import:\n- chain{level + 1}.yml\n")
    (db / f"chain{chain}.yml").write_text("packages:\n")
    edit(db / "deps.yml", lambda d: d.update({"import": ["chain0.yml"]}))
    assert "files import each other more than 32 levels deep" in error_of(db)


def test_imports_read_again_and_again(db):
    """Each file imports the next one twice: 2**12 reads of 13 files."""
    for level in range(12):
        (db / f"twice{level}.yml").write_text(f"import:\n- twice{level + 1}.yml\n- twice{level + 1}.yml\n")
    (db / "twice12.yml").write_text("packages:\n")
    edit(db / "deps.yml", lambda d: d.update({"import": ["twice0.yml"]}))
    assert "files read in all (the same files imported again and again); import each file once" in error_of(db)


# --- duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_in_a_package(db):
    text = (db / "deps.yml").read_text().replace("  name: python-pbr\n", "  name: python-pbr\n  name: other\n")
    (db / "deps.yml").write_text(text)
    assert error_of(db) == f"{db / 'deps.yml'}:4: key 'name' is given twice in one mapping (first on line 3); keep one"


def test_duplicate_top_level_key(db):
    text = (db / "rdo.yml").read_text() + "packages:\n- project: other\n"
    (db / "rdo.yml").write_text(text)
    message = error_of(db)
    assert message.startswith(f"{db / 'rdo.yml'}:")
    assert "key 'packages' is given twice in one mapping (first on line " in message


def test_duplicate_key_spelt_differently(db):
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + "x-a: 1\n'x-a': 2\n")
    assert "key 'x-a' is given twice" in error_of(db)


def test_merge_keys_may_be_overridden(db):
    text = (db / "deps.yml").read_text().replace("- project: python-pbr\n", "- &pbr\n  project: python-pbr\n")
    text += "- <<: *pbr\n  project: python-pbr-copy\n  name: python-pbr-copy\n"
    (db / "deps.yml").write_text(text)
    pkgs = loads(db)
    assert pkgs["python-pbr-copy"]["upstream"] == pkgs["python-pbr"]["upstream"]


# --- broken YAML -------------------------------------------------------------------------------


def laughs(levels: int, width: int = 10) -> str:
    lines = [f"lol0: &lol0 [{', '.join(['lol'] * width)}]"]
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused(db):
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + laughs(10))
    message = error_of(db)
    assert message.startswith(f"{db / 'deps.yml'}: aliases (*name) expand to ")
    assert "write the values out instead of repeating aliases" in message


def test_billion_laughs_in_a_package_field_is_refused(db):
    """Returned as the module's JSON, these few hundred bytes would be gigabytes."""
    text = "".join(f"  x-{line.strip()}\n" for line in laughs(9).splitlines())
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + text)
    assert "aliases (*name) expand to " in error_of(db)


def test_recursive_alias_is_refused(db):
    (db / "deps.yml").write_text((db / "deps.yml").read_text() + "  x-self: &self [a, *self]\n")
    assert error_of(db).startswith(f"{db / 'deps.yml'}:10: an alias refers to a mapping or list it is part of")


def test_a_few_aliases_are_fine(db):
    text = (
        (db / "deps.yml")
        .read_text()
        .replace("  maintainers:\n  - deps@example.org\n", "  maintainers: &m\n  - d@e.org\n")
    )
    text += (
        "- project: other\n  name: other\n  upstream: https://x/o\n  master-distgit: https://x/d\n  maintainers: *m\n"
    )
    (db / "deps.yml").write_text(text)
    assert loads(db)["other"]["maintainers"] == ["d@e.org"]


def test_truncated_yaml(db):
    """Cut anywhere: a YAML error with its line, or a field left empty, or it loads."""
    text = (db / "rdo.yml").read_bytes()
    for cut in range(0, len(text), 7):
        (db / "rdo.yml").write_bytes(text[:cut])
        try:
            loader.read(str(db / "rdo-full.yml"))
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"{db}{os.sep}"), str(exc)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", None),
        (b"# nothing but a comment\n", None),
        (b"- a\n- b\n", "the top level must be a mapping (releases:, packages:, import:)"),
        (b"just text\n", "the top level must be a mapping (releases:, packages:, import:)"),
        (b"42\n", "the top level must be a mapping (releases:, packages:, import:)"),
        (
            b"a: 1\n---\nb: 2\n",
            "but found another document",
        ),
        (b"packages:\x00\n", "YAML syntax error: unacceptable character #x0000: control characters are not allowed"),
        (b"x: !!python/object/apply:os.system [true]\n", "YAML syntax error: could not determine a constructor"),
        (b"x: " + b"[" * 2000 + b"]" * 2000 + b"\n", "exceeded maximum nesting depth"),
        (b"? [a, b]\n: c\n", "found unhashable key"),
    ],
)
def test_broken_yaml_kinds_stay_one_line(db, content, expected):
    """Reported on one line before too, except a truncated file (above): kept so that the changes keep them."""
    (db / "deps.yml").write_bytes(content)
    if expected is None:
        assert "python-pbr" not in loads(db)
        return
    message = error_of(db)
    assert message.startswith(f"{db / 'deps.yml'}"), message
    assert expected in message, message


def test_empty_entry_file(db):
    (db / "rdo-full.yml").write_text("")
    assert (
        error_of(db)
        == f"{db / 'rdo-full.yml'}: no releases: section in it or its imports; add one (name:, branch:, repos:)"
    )


def test_huge_files_load(db):
    """A large database loads (the public one: 1,400 packages, 3.8 MB), and a long value with it."""
    entries = [
        {
            "project": f"huge{index}",
            "name": f"python-huge{index}",
            "upstream": f"https://x.example/huge{index}",
            "master-distgit": f"https://x.example/huge{index}-distgit",
            "maintainers": ["m@x.example"],
            "x-notes": "n" * 1000,
            "tags": {"zed": None},
        }
        for index in range(3000)
    ]
    (db / "deps.yml").write_text(yaml.safe_dump({"packages": entries}) + "# " + "x" * 5_000_000 + "\n")
    assert len(loads(db, release="zed")) == 3004


def test_release_repos_missing_names_the_release_file(db):
    edit(db / "rdo.yml", lambda d: d["releases"][0].pop("repos"))
    assert (
        error_of(db)
        == f"{db / 'rdo.yml'}: release 'antelope': missing field 'repos' (the repositories it is built for)"
    )


def test_repo_without_a_name_names_the_release_file(db):
    edit(db / "rdo.yml", lambda d: d["releases"][0]["repos"][0].pop("name"))
    assert error_of(db) == f"{db / 'rdo.yml'}: releases[0].repos[0]: missing field 'name'"


def test_cache_entries_written_before_these_checks_are_not_trusted(db, tmp_path):
    """A file cached by a loader that kept the last of two keys is read again, and refused."""
    path = db / "deps.yml"
    text = path.read_text().replace("  name: python-pbr\n", "  name: python-pbr\n  name: other\n")
    path.write_text(text)
    stat = path.stat()
    cache = tmp_path / "cache"
    cache.mkdir()
    earlier_key = hashlib.sha256(str(path).encode()).hexdigest()[:32]  # how the cache was keyed before
    with open(cache / f"{earlier_key}.pickle", "wb") as handle:
        pickle.dump(((stat.st_mtime_ns, stat.st_size), yaml.safe_load(text)), handle)
    assert "key 'name' is given twice" in error_of(db, cache_dir=str(cache))


# --- the real database still loads ------------------------------------------------------------


def test_public_rdoinfo_loads_as_distroinfo_reads_it():
    if not (RDOINFO / "rdo-full.yml").exists():
        pytest.skip(f"{RDOINFO} is not there (CI always has ../shared/data)")
    result = loader.read(str(RDOINFO / "rdo-full.yml"), release="zed")
    reference = di_info.DistroInfo("rdo-full.yml", local_info=str(RDOINFO)).get_info(apply_tag="zed")
    tagged = {p["project"]: p for p in reference["packages"] if "zed" in (p.get("tags") or {})}
    ours = {p["project"]: p for p in result.packages}
    assert len(ours) == len(tagged) == 331
    for project, pkg in tagged.items():
        assert {k: ours[project][k] for k in pkg if k != "tags"} == {k: v for k, v in pkg.items() if k != "tags"}
        assert ours[project]["tags"] == sorted(pkg["tags"]), project


# --- through the module ------------------------------------------------------------------------

PLAYBOOK = """\
- name: Read hostile package databases with pkgdb_info
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read each database
      distroforge.openstack.pkgdb_info:
        path: "{{ item }}/rdo-full.yml"
        cache_dir: ""
      loop: "{{ databases }}"
      register: results
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ results.results | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""

MODULE_CASES = {
    "latin-1": lambda d: (d / "deps.yml").write_bytes(
        (d / "deps.yml").read_text().replace("deps@", "d\xe9@").encode("latin-1")
    ),
    "conf-list": lambda d: edit(d / "rdo.yml", lambda x: x["packages"][0].update(conf=["core"])),
    "percent": lambda d: edit(d / "rdo.yml", lambda x: x["packages"][0].update(upstream="https://x/a%2Fb")),
    "outside": lambda d: edit(d / "deps.yml", lambda x: x.update({"import": ["../outside.yml"]})),
    "duplicate": lambda d: (d / "deps.yml").write_text((d / "deps.yml").read_text() + "packages: []\n"),
    "laughs": lambda d: (d / "deps.yml").write_text((d / "deps.yml").read_text() + laughs(10)),
}


def test_module_reports_one_line(tmp_path):
    (tmp_path / "outside.yml").write_text(yaml.safe_dump(OUTSIDE_PACKAGE))
    databases = []
    for name, damage in MODULE_CASES.items():
        target = tmp_path / name
        shutil.copytree(FIXTURE, target)
        damage(target)
        databases.append(str(target))
    (tmp_path / "pb.yml").write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    run_playbook(tmp_path / "pb.yml", {"databases": databases, "out": str(out)})
    results = json.loads(out.read_text())
    assert len(results) == len(MODULE_CASES)
    for database, result in zip(databases, results, strict=True):
        assert result["failed"] is True, result
        # a crash shows as MODULE FAILURE with the traceback in module_stderr / exception
        assert "module_stderr" not in result and "Traceback" not in str(result.get("exception")), result
        message = result["msg"]
        assert "\n" not in message and "MODULE FAILURE" not in message, message
        assert message.startswith(f"{database}{os.sep}"), message
