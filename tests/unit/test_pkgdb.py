"""pkgdb loader: the rdoinfo features the public database uses, and clear errors."""

import shutil
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader

from .shared_dir import SHARED

FIXTURE = Path(__file__).parent / "fixtures" / "pkgdb"


@pytest.fixture
def db(tmp_path):
    """A writable copy of the fixture database."""
    target = tmp_path / "db"
    shutil.copytree(FIXTURE, target)
    return target


def by_project(packages):
    return {p["project"]: p for p in packages}


def edit(path: Path, fn):
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_includes_templates_and_defaults_are_expanded():
    pkgs = by_project(loader.read(str(FIXTURE / "rdo-full.yml")).packages)
    assert set(pkgs) == {"keystone", "keystoneclient", "keystonemiddleware", "oslo-config", "glance", "python-pbr"}
    ks = pkgs["keystone"]
    assert ks["name"] == "openstack-keystone"  # from the 'core' template
    assert ks["upstream"] == "https://opendev.org/openstack/keystone"
    assert ks["distgit"] == ks["master-distgit"] == "https://github.com/rdo-packages/keystone-distgit.git"
    assert ks["component"] == "keystone"  # the package wins over its template
    assert ks["tags"] == ["antelope", "zed"]  # tags merged from two tag files
    client = pkgs["keystoneclient"]
    assert client["name"] == "python-keystoneclient"
    assert client["upstream"] == "https://opendev.org/openstack/python-keystoneclient"
    # package-default supplies name and master-distgit when the template does not
    mw = pkgs["keystonemiddleware"]
    assert mw["name"] == "python-keystonemiddleware"
    assert mw["distgit"] == "https://github.com/rdo-packages/keystonemiddleware-distgit.git"
    assert mw["maintainers"] == ["someone@example.org"]
    assert pkgs["oslo-config"]["upstream"] == "https://opendev.org/openstack/oslo.config"
    # without a release, DLRN's projects.ini defaults apply
    assert (ks["source_branch"], ks["distgit_branch"]) == ("master", "rpm-master")


def test_release_keeps_tagged_packages_and_applies_overrides():
    result = loader.read(str(FIXTURE / "rdo-full.yml"), release="zed")
    pkgs = by_project(result.packages)
    assert set(pkgs) == {"keystone", "keystoneclient", "keystonemiddleware", "oslo-config"}
    ks = pkgs["keystone"]
    assert ks["source_branch"] == "22.0.2"  # tag override
    assert ks["component"] == "security"  # tag override wins over the package
    assert ks["distgit_branch"] == "zed-rdo"  # from the release
    assert ks["release"] == "zed"
    assert pkgs["keystoneclient"]["source_branch"] == "stable/zed"  # release upstream_branch
    assert pkgs["keystonemiddleware"]["distgit_branch"] == "zed-rdo-patches"  # distro-branch override
    antelope = by_project(loader.read(str(FIXTURE / "rdo-full.yml"), release="antelope").packages)
    assert set(antelope) == {"keystone", "glance"}
    assert antelope["glance"]["source_branch"] == "stable/2023.1"


def test_releases_and_files_are_returned():
    result = loader.read(str(FIXTURE / "rdo-full.yml"))
    assert [r["name"] for r in result.releases] == ["antelope", "zed"]
    names = [Path(f).name for f in result.files]
    assert names[0] == "rdo-full.yml"
    assert {"rdo.yml", "deps.yml", "tags.yml", "zed.yml", "antelope.yml"} <= set(names)
    assert len(names) == len(set(names))


def test_name_filter_accepts_package_or_project_names():
    result = loader.read(str(FIXTURE / "rdo-full.yml"), release="zed", names=["openstack-keystone", "oslo-config"])
    assert sorted(p["project"] for p in result.packages) == ["keystone", "oslo-config"]
    with pytest.raises(InputError, match="no package tagged for zed named glance"):
        loader.read(str(FIXTURE / "rdo-full.yml"), release="zed", names=["glance"])


def test_cache_gives_the_same_result_and_follows_edits(db, tmp_path):
    cache = str(tmp_path / "cache")
    first = loader.read(str(db / "rdo-full.yml"), cache_dir=cache)
    again = loader.read(str(db / "rdo-full.yml"), cache_dir=cache)
    assert first.packages == again.packages
    assert any((tmp_path / "cache").iterdir())
    edit(db / "rdo.yml", lambda d: d["packages"][0].update({"component": "changed"}))
    edited = by_project(loader.read(str(db / "rdo-full.yml"), cache_dir=cache).packages)
    assert edited["keystone"]["component"] == "changed"


# --- errors: one line naming the file, the package and the field -----------------


def error_of(db, **kw):
    with pytest.raises(InputError) as err:
        loader.read(str(db / "rdo-full.yml"), **kw)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_yaml_syntax_error_names_file_and_line(db):
    text = (db / "tags" / "zed.yml").read_text().replace("  tags:\n    zed:\n      source-branch", "  tags: [\n")
    (db / "tags" / "zed.yml").write_text(text)
    message = error_of(db)
    assert message.startswith(f"{db / 'tags' / 'zed.yml'}:")
    assert "YAML syntax error" in message
    line = int(message.split(":")[1])
    assert 2 <= line <= 6


def test_missing_required_field(db):
    edit(db / "rdo.yml", lambda d: d["package-configs"]["lib"].pop("maintainers"))
    message = error_of(db)
    assert message == (
        f"{db / 'rdo.yml'}: package 'oslo-config': missing field 'maintainers' "
        "(set it on the package or in its conf: template)"
    )


def test_missing_project(db):
    edit(db / "deps.yml", lambda d: d["packages"][0].pop("project"))
    assert error_of(db) == f"{db / 'deps.yml'}: packages[0]: missing field 'project' (the upstream project name)"


def test_unknown_template(db):
    edit(db / "rdo.yml", lambda d: d["packages"][4].update({"conf": "cor"}))
    message = error_of(db)
    assert message.startswith(f"{db / 'rdo.yml'}: package 'glance': conf: unknown template 'cor'")
    assert "client, core, lib" in message


def test_duplicate_package_name_in_one_release(db):
    edit(db / "rdo.yml", lambda d: d["packages"][2].update({"name": "python-keystoneclient"}))
    message = error_of(db, release="zed")
    assert "name: duplicate package name 'python-keystoneclient'" in message
    assert "'keystonemiddleware'" in message or "'keystoneclient'" in message


def test_same_name_in_disjoint_releases_is_allowed(db):
    # the public database has e.g. 'python-mox3' twice, once as a dependency
    def add(d):
        d["packages"].append(
            {
                "project": "python-glance",
                "name": "openstack-glance",
                "upstream": "https://x.org/g",
                "master-distgit": "https://x.org/g-distgit",
                "maintainers": ["a@b.c"],
                "tags": {"dependency": None},
            }
        )

    edit(db / "deps.yml", add)
    assert len(loader.read(str(db / "rdo-full.yml")).packages) == 7


def test_conflicting_duplicate_project_in_one_file(db):
    edit(db / "deps.yml", lambda d: d["packages"].append(dict(d["packages"][0], upstream="https://other.org/pbr")))
    assert "package 'python-pbr' is defined twice with different values" in error_of(db)


def test_identical_duplicate_project_in_one_file_is_allowed(db):
    # the public deps.yml lists python-markupsafe twice, identically
    edit(db / "deps.yml", lambda d: d["packages"].append(dict(d["packages"][0])))
    assert len(loader.read(str(db / "rdo-full.yml")).packages) == 6


@pytest.mark.parametrize("url", ["opendev.org/openstack/keystone", "https//x", "keystone"])
def test_bad_url(db, url):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update({"upstream": url}))
    assert error_of(db) == (
        f"{db / 'rdo.yml'}: package 'keystone': upstream: '{url}' is not a git URL "
        "(https://, git://, ssh://, file://, user@host:path or an absolute path)"
    )


@pytest.mark.parametrize("url", ["git@github.com:org/repo.git", "file:///srv/git/x", "/srv/git/x", "ssh://h:29418/x"])
def test_good_urls(db, url):
    edit(db / "rdo.yml", lambda d: d["packages"][0].update({"upstream": url}))
    assert by_project(loader.read(str(db / "rdo-full.yml")).packages)["keystone"]["upstream"] == url


def test_tag_for_unknown_release_names_the_tag_file(db):
    edit(db / "tags" / "zed.yml", lambda d: d["packages"][1].update({"tags": {"zedd": None}}))
    message = error_of(db)
    assert message.startswith(f"{db / 'tags' / 'zed.yml'}: package 'keystoneclient': tags: 'zedd' is not a release")
    assert "fix the name or add it to releases:" in message


def test_release_sub_tags_and_extra_tags_are_allowed(db):
    # the public database uses e.g. 'flamingo-uc', 'under-review', 'version-locked'
    edit(db / "tags" / "zed.yml", lambda d: d["packages"][1].update({"tags": {"zed": None, "zed-uc": None}}))
    loader.read(str(db / "rdo-full.yml"))
    edit(db / "tags" / "zed.yml", lambda d: d["packages"][1].update({"tags": {"frozen": None}}))
    assert "'frozen' is not a release" in error_of(db)
    loader.read(str(db / "rdo-full.yml"), extra_tags=("frozen", "dependency"))


def test_unknown_release_option(db):
    assert "release 'zedd' is not in releases: (known: antelope, zed)" in error_of(db, release="zedd")


def test_missing_files(db, tmp_path):
    with pytest.raises(InputError, match="no such package database file"):
        loader.read(str(tmp_path / "nope.yml"))
    (db / "tags" / "zed.yml").unlink()
    message = error_of(db)
    assert message.startswith(f"{db / 'tags' / 'zed.yml'}: no such file (imported from")


def test_circular_import(db):
    edit(db / "deps.yml", lambda d: d.update({"import": ["rdo-full.yml"]}))
    assert "circular import" in error_of(db)


def test_maintainers_must_be_emails(db):
    edit(db / "rdo.yml", lambda d: d["packages"][2].update({"maintainers": ["someone"]}))
    assert (
        error_of(db)
        == f"{db / 'rdo.yml'}: package 'keystonemiddleware': maintainers: must be a list of e-mail addresses"
    )


def test_public_rdoinfo_loads_unchanged():
    """The real database (../shared/data, which CI always has) loads unchanged."""
    entry = SHARED / "data" / "rdoinfo" / "rdo-full.yml"
    if not entry.exists():
        pytest.skip(f"{entry} is not there")
    result = loader.read(str(entry), release="zed")
    assert len(result.packages) == 331
