"""package_generate: a new package's distgit from its sdist's metadata.

What it reads (PKG-INFO, setup.cfg, setup.py, a git checkout), what it writes
(a DLRN-ready spec, a debian/ the libraries parse, dependencies reqcheck
finds met), and that regenerating changes nothing while a hand edit is never
overwritten unless forced.  The builds of generated packaging are in
test_zed_libs.py.
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import shlex
import tarfile
import textwrap
from pathlib import Path

import pytest
import yaml
from debian.changelog import Changelog
from debian.copyright import Copyright

from ansible_collections.distroforge.openstack.plugins.module_utils._build import rpm as rpm_build
from ansible_collections.distroforge.openstack.plugins.module_utils._build import specread
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._packaging import (
    debian_base,
    generate,
    metadata,
    template_data,
    templates,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._release import pkgfiles, pymod, reqcheck
from ansible_collections.distroforge.openstack.plugins.module_utils._versions import pbr

from .ansible_run import TOP, play
from .gitrepos import commit, git, init
from .sdists import README, T0, make_sdist

MAP = pymod.load()
NO_OVERRIDES = reqcheck.Overrides()
TEMPLATES = templates.TemplateSet.load()
CACHE = Path.home() / ".cache" / "distroforge" / "sdists"


def render(sdist: Path, **options) -> dict[str, str]:
    overrides = options.pop("overrides", NO_OVERRIDES)
    template_set = options.pop("templates", TEMPLATES)
    return generate.render(metadata.read(sdist), generate.Options(**options), MAP, overrides, template_set)


# -- reading ----------------------------------------------------------------------------------------


def test_metadata_of_a_pbr_sdist(tmp_path):
    sdist = make_sdist(
        tmp_path,
        entry_points="console_scripts =\n    hellogen-status = hellogen.cmd:main\n",
        files="packages =\n    hellogen\nscripts =\n    bin/hellogen-old\n",
        extra_files={"bin/hellogen-old": "#!/bin/sh\n"},
    )
    meta = metadata.read(sdist)
    assert (meta.name, meta.version, meta.summary) == ("hellogen", "1.2.0", "A library to test package generation")
    assert meta.packages == ("hellogen",) and meta.console_scripts == ("hellogen-status",)
    assert meta.scripts == ("hellogen-old",) and meta.is_pbr and meta.setup_requires == ("pbr>=2.0.0",)
    assert (meta.license_files, meta.doc_files, meta.source_time) == (("LICENSE",), ("README.rst",), T0)
    assert meta.egg_info_name == "hellogen" and "oslo.config>=8.0.0" in meta.requirements
    # metadata 1.2 folds the description (8 spaces): unfolded, it is the README again
    assert meta.description.rstrip() == README.rstrip()
    assert generate.first_paragraph(meta.description) == (
        "The hello library says hello to OpenStack services in a consistent way, for tests of the packaging generator."
    )


def test_metadata_2_1_and_egg_info_names(tmp_path):
    meta = metadata.read(make_sdist(tmp_path, "python-helloclient", legacy=False))
    assert meta.description == README and meta.egg_info_name == "python_helloclient"
    assert metadata.read(make_sdist(tmp_path, "oslo.hello")).egg_info_name == "oslo.hello"


def test_a_git_checkout_is_versioned_as_pbr_versions_it(tmp_path):
    repo = init(tmp_path / "hellogen")
    sdist = make_sdist(tmp_path / "s")
    with tarfile.open(sdist) as archive:
        files = {
            m.name.split("/", 1)[1]: archive.extractfile(m).read().decode()
            for m in archive.getmembers()
            if m.isfile() and not m.name.endswith(("PKG-INFO", "AUTHORS", "ChangeLog"))
        }
    commit(repo, "Import", T0, files)
    git(repo, "tag", "-a", "-m", "1.2.0", "1.2.0", when=T0)
    assert metadata.read(repo).version == "1.2.0"
    commit(repo, "Fix", T0 + 60)
    meta = metadata.read(repo)
    assert (meta.version, meta.source_time, meta.summary) == (
        "1.2.1.dev1",
        T0 + 60,
        "A library to test package generation",
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "setup.cfg").write_text(files["setup.cfg"])
    with pytest.raises(InputError, match=r"neither an sdist nor a git checkout; give version"):
        metadata.read(plain)
    assert metadata.read(plain, version="1.2.0").version == "1.2.0"


def test_data_files_are_expanded_as_pbr_expands_them(tmp_path, monkeypatch):
    """Against pbr's own expansion (pbr.hooks.files.FilesConfig.expand_globs) on the unpacked tree."""
    files_hook = pytest.importorskip("pbr.hooks.files")
    names = ["etc/hello/rootwrap.d/hello.filters", "etc/hello/api-paste.ini", "doc/hello.1", "tools/x.sh"]
    value = "\netc/ = etc/*\nshare/man/man1 = doc/hello.1\nshare/hello =\n    tools/x.sh\n"
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    config = {"files": {"data_files": value}, "metadata": {"name": "hello"}}
    hook = files_hook.FilesConfig(config, "hello")
    hook.expand_globs()
    theirs = set()
    target = None
    for line in hook.data_files.splitlines():  # pbr quotes the paths it writes
        sources = line
        if "=" in line:
            target_text, _sep, sources = line.partition("=")
            target = shlex.split(target_text)[0].rstrip("/")
        theirs |= {(target, Path(item).name) for item in shlex.split(sources)}
    assert set(metadata.data_files(value, names)) == theirs


def test_c_extensions_and_unknown_licenses_are_refused(tmp_path):
    sdist = make_sdist(tmp_path / "c", setup_py="from setuptools import setup, Extension\nsetup(ext_modules=[])\n")
    with pytest.raises(InputError, match=r"builds C extensions; .* add an arch-specific kind in templates_dir"):
        render(sdist)
    sdist = make_sdist(tmp_path / "l")
    text = sdist.read_bytes()
    meta = metadata.read(sdist)
    odd = metadata.ProjectMetadata(**{**meta.__dict__, "license": "WTFPL", "classifiers": ()})
    with pytest.raises(InputError, match=r"license metadata says WTFPL, .*add it to licenses.yml in templates_dir"):
        generate.render(odd, generate.Options(), MAP, NO_OVERRIDES, TEMPLATES)
    assert sdist.read_bytes() == text
    with pytest.raises(InputError, match=r"kind: 'service' is not a package kind; use one of python-client, "):
        render(sdist, kind="service")
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(InputError, match=r"^source: .*broken.tar.gz is not an sdist"):
        metadata.read(tmp_path / "broken.tar.gz")


# -- what it writes ---------------------------------------------------------------------------------


def test_the_spec_is_dlrn_ready_and_rpm_reads_what_it_needs(tmp_path):
    files = render(make_sdist(tmp_path), rpm_name="python-hellogen", maintainer="Packager <p@example.org>")
    assert sorted(files) == [
        "debian/changelog",
        "debian/control",
        "debian/copyright",
        "debian/rules",
        "debian/source/format",
        "python-hellogen.spec",
    ]
    spec = files["python-hellogen.spec"]
    assert re.search(r"^Version:\s+XXX$", spec, re.M) and re.search(r"^Release:\s+XXX$", spec, re.M)
    assert not re.search(r"%\{?py3_(build|install)|%pyproject_", spec), "Fedora python macros do not exist on Debian"
    # The build fills it in the way DLRN does (the same function builds every spec).
    version = pbr.PackageVersion("a" * 40, T0, "1.2.0", "1.2.0", 0, "1.2.0", "0.20231114.aaaaaaa", "1.2.0-1")
    prepared = rpm_build.prepare_spec(spec, version, "/b/hellogen-1.2.0.tar.gz", "hellogen")
    assert "Version:        1.2.0" in prepared and "Source0: hellogen-1.2.0.tar.gz" in prepared
    found = specread.read(spec, "python-hellogen.spec")
    assert found.provides == ["python-hellogen", "python3-hellogen"]
    requires = {(name, version) for name, _flags, version in found.requires}
    assert requires == {("python3-pbr", "2.0.0"), ("python3-oslo-config", "8.0.0"), ("python3-requests", "2.14.2")}
    assert {name for name, _f, _v in found.build_requires} >= {"python3-pbr", "python3-setuptools", "python3-devel"}
    assert "%{python3_sitelib}/hellogen\n" in spec and "%{python3_sitelib}/hellogen-*.egg-info" in spec
    assert "* Tue Nov 14 2023 Packager <p@example.org> - 1.2.0-1" in spec


def test_debian_files_parse_and_carry_the_epochs(tmp_path):
    files = render(
        make_sdist(tmp_path), deb_epoch=2, epochs={"deb": {"python3-oslo.config": 1}}, maintainer="Packager <p@x.org>"
    )
    log = Changelog(files["debian/changelog"], strict=True)
    assert (log.package, str(log.version), log.distributions) == ("python-hellogen", "2:1.2.0-1", "bookworm")
    deps = pkgfiles.control_dependencies(files["debian/control"], "control")
    assert deps.provides == {"python3-hellogen"}
    assert {d.text() for d in deps.runtime} == {
        "python3-oslo.config >= 1:8.0.0",
        "python3-pbr >= 2.0.0",
        "python3-requests >= 2.14.2",
    }
    assert {d.name for d in deps.build} == {
        "debhelper-compat",
        "dh-python",
        "python3-all",
        "python3-pbr",
        "python3-setuptools",
    }
    copyright_ = Copyright(files["debian/copyright"].splitlines(), strict=True)
    assert copyright_.find_files_paragraph("hellogen/__init__.py").license.synopsis == "Apache-2.0"
    assert "/usr/share/common-licenses/Apache-2.0" in files["debian/copyright"]
    assert files["debian/rules"].startswith("#!/usr/bin/make -f\n") and "--buildsystem=pybuild" in files["debian/rules"]
    assert files["debian/source/format"] == "3.0 (quilt)\n"


@pytest.mark.parametrize("fmt", ["rpm", "deb"])
def test_reqcheck_finds_every_runtime_requirement_met(tmp_path, fmt):
    requirements = "pbr!=2.1.0,>=2.0.0\noslo.config>=8.0.0\nPyYAML>=5.1\nrequests>=2.14.2 # Apache-2.0\n"
    requirements += "pywin32>=1.0;sys_platform=='win32'\nosprofiler>=1.4.0\n"
    files = render(make_sdist(tmp_path, requirements=requirements))
    deps = (
        pkgfiles.spec_dependencies_minimal(files["python-hellogen.spec"])
        if fmt == "rpm"
        else pkgfiles.control_dependencies(files["debian/control"], "control")
    )
    report = reqcheck.check(
        package="hellogen",
        tag="1.2.0",
        requirements={"requirements.txt": requirements},
        old_requirements=None,
        old_tag=None,
        packaging={fmt: deps},
        pkgmap=MAP,
        overrides=NO_OVERRIDES,
        kinds=["runtime"],
    )
    counts = report.counts()
    assert counts["met"] == 5 and sum(counts.values()) == 5, report.text()


def test_the_client_kind_names_its_commands_and_installs_its_completion(tmp_path):
    sdist = make_sdist(
        tmp_path,
        "python-helloclient",
        entry_points="console_scripts =\n    hello = helloclient.shell:main\n",
        files="packages =\n    helloclient\ndata_files =\n    share/man/man1 = doc/hello.1\n",
        extra_files={"tools/hello.bash_completion": "complete -F _hello hello\n", "doc/hello.1": ".TH hello\n"},
    )
    files = render(sdist, kind="python-client")
    spec = files["python-helloclient.spec"]
    assert "%{_bindir}/hello\n" in spec and "%{_prefix}/share/man/man1/hello.1*\n" in spec
    assert (
        "install -p -D -m 644 tools/hello.bash_completion %{buildroot}%{_datadir}/bash-completion/completions/hello"
        in spec
    )
    assert "This package contains the command line interface: hello." in spec
    assert "debian/python3-helloclient/usr/share/bash-completion/completions/hello" in files["debian/rules"]
    assert " This package contains the command line interface: hello." in files["debian/control"]
    # a library never installs a completion it does not name
    assert "bash-completion" not in render(sdist)["python-helloclient.spec"]


def test_the_tempest_plugin_kind_takes_its_names_from_the_overrides(tmp_path):
    overrides_file = tmp_path / "overrides.yml"
    overrides_file.write_text(
        "map:\n  hello-tempest-plugin: {rpm: python3-hello-tests-tempest, deb: hello-tempest-plugin}\n"
    )
    sdist = make_sdist(
        tmp_path,
        "hello-tempest-plugin",
        requirements="tempest>=27.0.0\n",
        entry_points="tempest.test_plugins =\n    hello = hello_tempest_plugin.plugin:HelloPlugin\n",
    )
    files = render(
        sdist,
        kind="tempest-plugin",
        rpm_name="python-hello-tests-tempest",
        overrides=reqcheck.load_overrides(overrides_file),
        epochs={"deb": {"python3-tempest": 1}},
    )
    assert "%package -n python3-hello-tests-tempest" in files["python-hello-tests-tempest.spec"]
    assert "Requires: openstack-tempest >= 27.0.0" in files["python-hello-tests-tempest.spec"]
    control = files["debian/control"]
    assert "Source: hello-tempest-plugin\n" in control and "Package: hello-tempest-plugin\n" in control
    assert " python3-tempest (>= 1:27.0.0),\n" in control
    assert " This package contains the Tempest plugin hello,\n which Tempest loads through" in control


def test_a_distribution_templates_dir_wins_and_adds_kinds(tmp_path):
    mine = tmp_path / "templates"
    (mine / "python-library" / "debian").mkdir(parents=True)
    (mine / "python-library" / "debian" / "source" / "format.j2").parent.mkdir()
    (mine / "python-library" / "debian" / "source" / "format.j2").write_text("3.0 (native)\n")
    (mine / "service" / "debian").mkdir(parents=True)
    (mine / "service" / "debian" / "hello.service.j2").write_text("[Service]\nExecStart=/usr/bin/{{ pypi_name }}\n")
    template_set = templates.TemplateSet.load(mine)
    assert "service" in template_set.kinds
    files = render(make_sdist(tmp_path), kind="service", templates=template_set)
    assert files["debian/source/format"] == "3.0 (native)\n"
    assert files["debian/hello.service"] == "[Service]\nExecStart=/usr/bin/hellogen\n"
    with pytest.raises(InputError, match=r"templates_dir: .* is not a directory"):
        templates.TemplateSet.load(tmp_path / "nothing")


def test_the_embedded_templates_are_the_files():
    """Modules read template_data.py (Ansible ships module_utils as Python only): it must be the kinds/ files."""
    embed = TOP / "tools" / "embed_packaging_templates.py"
    assert templates.read_dir(templates.SOURCE_DIR) == template_data.TEMPLATES, (
        f"template_data.py is stale: run python3 {embed.relative_to(TOP)}"
    )


def test_the_first_paragraph_is_docutils_first_paragraph():
    """The hand-written reading of a long description against docutils on every sdist the examples cached."""
    core = pytest.importorskip("docutils.core")
    nodes = pytest.importorskip("docutils.nodes")
    sdists = sorted(CACHE.glob("*.tar.gz"))
    if not sdists:
        pytest.skip(f"no sdist in {CACHE}: make example downloads them")
    for path in sdists:
        description = metadata.read(path).description
        doc = core.publish_doctree(
            description, settings_overrides={"report_level": 5, "halt_level": 5, "file_insertion_enabled": False}
        )
        theirs = next(
            (
                " ".join(p.astext().split())
                for p in doc.findall(nodes.paragraph)
                if isinstance(p.parent, (nodes.document, nodes.section)) and len(p.astext().split()) >= 4
            ),
            "",
        )
        assert " ".join(generate.first_paragraph(description).split()) == theirs, path.name


# -- epochs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "base", "epoch"),
    [
        ("9.0.0", None, None),  # bookworm has no such package
        ("9.0.0", "8.8.0-2", None),  # ours is newer already
        ("9.0.0", "9.0.0-3", 1),  # same upstream, Debian's revision is higher
        ("9.0.0", "1:9.0.0-3", 2),  # never below Debian's own epoch
        ("0.10.1", "0.11.0-3", 1),  # bookworm is newer: ours must still win
        ("22.0.2", "2:22.0.2-0+deb12u3", 2),  # Debian's epoch is enough
    ],
)
def test_the_epoch_puts_our_version_above_the_base(version, base, epoch):
    assert debian_base.epoch_above(version, base) == epoch


def test_base_indexes_are_read_plain_gz_and_xz(tmp_path):
    text = "Package: python3-webob\nVersion: 1:1.8.6-3\n\nPackage: python3-six\nVersion: 1.16.0-4\n\n"
    text += "Package: python3-six\nVersion: 1.16.0-3\n"
    (tmp_path / "Packages").write_text(text)
    (tmp_path / "Packages.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "Packages.xz").write_bytes(lzma.compress(text.encode()))
    for name in ("Packages", "Packages.gz", "Packages.xz"):
        versions = debian_base.read_indexes([tmp_path / name])
        assert versions == {"python3-webob": "1:1.8.6-3", "python3-six": "1.16.0-4"}
        assert debian_base.epochs_for(["python3-webob", "python3-six", "python3-nothing"], versions) == {
            "python3-webob": 1
        }
    with pytest.raises(InputError, match=r"^base_indexes: .* does not exist"):
        debian_base.read_indexes([tmp_path / "missing"])


# -- regenerating -----------------------------------------------------------------------------------


def test_regenerating_changes_nothing_and_a_hand_edit_is_never_overwritten(tmp_path):
    dest = tmp_path / "distgit"
    files = render(make_sdist(tmp_path))
    first = generate.plan(dest, files, "python-library")
    assert first.changed and {c.action for c in first.files} == {"create"}
    generate.apply(first)
    assert (dest / "debian" / "rules").stat().st_mode & 0o777 == 0o755
    assert json.loads((dest / generate.MANIFEST).read_text())["kind"] == "python-library"
    again = generate.plan(dest, files, "python-library")
    assert not again.changed and {c.action for c in again.files} == {"unchanged"}
    # a file of the packager's own is left alone
    (dest / "debian" / "patches").mkdir()
    (dest / "debian" / "patches" / "series").write_text("fix.patch\n")
    # a hand edit: refused, nothing written, the message says how to go on
    control = dest / "debian" / "control"
    control.write_text(control.read_text() + " python3-extra,\n")
    edited = control.read_text()
    newer = {**files, "python-hellogen.spec": files["python-hellogen.spec"] + "# newer\n"}
    plan = generate.plan(dest, newer, "python-library")
    assert plan.conflicts == ["debian/control"]
    with pytest.raises(InputError, match=r"debian/control changed by hand since generated .* set force: true"):
        generate.apply(plan)
    assert control.read_text() == edited and "# newer" not in (dest / "python-hellogen.spec").read_text()
    forced = generate.plan(dest, newer, "python-library", force=True)
    assert {c.path: c.action for c in forced.files}["debian/control"] == "forced"
    generate.apply(forced)
    assert control.read_text() == files["debian/control"]
    assert (dest / "debian" / "patches" / "series").is_file()
    # a renamed spec: the old one (ours, unedited) goes
    renamed = render(make_sdist(tmp_path), rpm_name="python-hellogen-lib")
    generate.apply(generate.plan(dest, renamed, "python-library"))
    assert sorted(p.name for p in dest.glob("*.spec")) == ["python-hellogen-lib.spec"]
    (dest / generate.MANIFEST).write_text("{not json")
    with pytest.raises(InputError, match=r"is damaged; restore it from git, or remove it and set force: true"):
        generate.plan(dest, renamed, "python-library")


# -- the module -------------------------------------------------------------------------------------


def _task(args: dict) -> list[dict]:
    return [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Generate",
                    "distroforge.openstack.package_generate": args,
                    "register": "out",
                    "ignore_errors": True,
                },
                {
                    "name": "Save",
                    "ansible.builtin.copy": {"content": "{{ out | to_json }}", "dest": args["dest"] + ".json"},
                    "check_mode": False,
                },
            ],
        }
    ]


def test_the_module_check_diff_idempotence_and_force(tmp_path):
    sdist = make_sdist(tmp_path / "sdists")
    base = tmp_path / "Packages"
    base.write_text(
        "Package: python3-hellogen\nVersion: 1:1.2.0-2\n\nPackage: python3-oslo.config\nVersion: 1:9.0.0-3\n"
    )
    dest = tmp_path / "distgit"
    args = {"src": str(sdist), "dest": str(dest), "base_indexes": [str(base)], "rpm_name": "python-hellogen"}
    playbook = tmp_path / "generate.yml"
    playbook.write_text(yaml.safe_dump(_task(args), sort_keys=False))

    def run(*options: str) -> dict:
        proc = play(playbook, {}, *options)
        assert proc.returncode == 0, proc.stdout[-2000:]
        return json.loads(Path(args["dest"] + ".json").read_text())

    checked = run("--check", "--diff")
    assert checked["changed"] and not dest.exists(), "check mode wrote"
    assert set(checked["files"].values()) == {"create"}
    assert {d["after_header"] for d in checked["diff"]} == set(checked["files"])
    done = run()
    assert done["changed"] and done["deb_epoch"] == 2 and done["names"]["deb_binary"] == "python3-hellogen"
    assert "python3-oslo.config (>= 1:8.0.0)" in done["requires"]["deb"]
    assert "python-hellogen (2:1.2.0-1) bookworm" in (dest / "debian" / "changelog").read_text()
    assert run()["changed"] is False
    (dest / "debian" / "rules").write_text("#!/usr/bin/make -f\n# mine\n")
    refused = run()
    assert refused["failed"] and "\n" not in refused["msg"]
    assert re.search(r"debian/rules changed by hand since generated .* set force: true to overwrite it", refused["msg"])
    assert "# mine" in (dest / "debian" / "rules").read_text()
    args["force"] = True
    playbook.write_text(yaml.safe_dump(_task(args), sort_keys=False))
    forced = run("--diff")
    assert forced["changed"] and forced["files"]["debian/rules"] == "forced"
    assert "# mine" not in (dest / "debian" / "rules").read_text()


def test_the_module_refuses_bad_input_in_one_line(tmp_path):
    args = {"src": str(tmp_path / "none.tar.gz"), "dest": str(tmp_path / "distgit")}
    playbook = tmp_path / "generate.yml"
    playbook.write_text(yaml.safe_dump(_task(args), sort_keys=False))
    assert play(playbook, {}).returncode == 0
    out = json.loads(Path(args["dest"] + ".json").read_text())
    assert out["failed"] and out["msg"].startswith("source: ") and "does not exist; give an sdist" in out["msg"]
    assert "\n" not in out["msg"]


def test_textwrap_of_the_debian_description_keeps_lines_short(tmp_path):
    long = "word " * 60
    readme = textwrap.dedent(f"Title\n=====\n\n{long}\n")
    sdist = make_sdist(tmp_path, extra_files={"README.rst": readme}, legacy=False)
    meta = metadata.read(sdist)
    meta = metadata.ProjectMetadata(**{**meta.__dict__, "description": readme})
    files = generate.render(meta, generate.Options(), MAP, NO_OVERRIDES, TEMPLATES)
    description = files["debian/control"].split("Description: ", 1)[1].splitlines()
    assert all(len(line) <= 80 for line in description) and len(description) > 3
