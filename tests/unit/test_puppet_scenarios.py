"""The built-in Puppet scenarios as data: what each one applies must exist, be installed and get its data.

A scenario that names a missing profile, uses a Puppet module whose Debian
package it does not install, or a profile parameter the hiera data does not
set fails on the node after minutes of apt and Puppet; these catch it here.
"""

import json
import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "deploy_puppet"
PUPPET = ROLE / "files" / "puppet"
PROFILES = PUPPET / "modules" / "distroforge_integration"
SCENARIOS = yaml.safe_load((ROLE / "vars" / "scenarios.yml").read_text())["__deploy_puppet_builtin_scenarios"]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())

# Puppet modules whose Debian package name is not puppet-module-<module>.
MODULE_PACKAGES = {"mysql": "puppet-module-puppetlabs-mysql", "apache": "puppet-module-puppetlabs-apache"}
# Modules that come with another one's package (dependencies of puppet-module-keystone and friends).
PULLED_IN = {"openstacklib", "oslo", "stdlib", "inifile"}

_INCLUDE = re.compile(r"^\s*include\s+(?:::)?([a-z_][\w:]*)", re.MULTILINE)
_CLASS = re.compile(r"^\s*class\s*\{\s*'(?:::)?([a-z_][\w:]*)'", re.MULTILINE)
_RESOURCE = re.compile(r"^\s*(?:(?:::)?([a-z_]\w*)::[\w:]*|([a-z]+)_[a-z_]+)\s*\{", re.MULTILINE)


def _profile_file(name):
    parts = name.split("::")
    assert parts[0] == "distroforge_integration", name
    return PROFILES / "manifests" / ("/".join(parts[1:]) + ".pp" if len(parts) > 1 else "init.pp")


def _profiles(scenario):
    """The distroforge_integration classes a scenario includes, directly or through other profiles."""
    todo = _INCLUDE.findall((PUPPET / "fixtures" / SCENARIOS[scenario]["manifest"]).read_text())
    seen = []
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith("distroforge_integration"):
            continue
        seen.append(name)
        path = _profile_file(name)
        assert path.exists(), f"{scenario}: {name} has no manifest {path.relative_to(ROLE)}"
        todo.extend(_INCLUDE.findall(path.read_text()))
    return seen


def _modules_used(text):
    modules = set(_CLASS.findall(text)) | set(_INCLUDE.findall(text))
    modules = {name.split("::")[0] for name in modules}
    for define, type_prefix in _RESOURCE.findall(text):
        modules.add(define or type_prefix)
    return modules - {"distroforge_integration", "file", "exec", "package", "service"}


def _render_hiera(secrets):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True)
    env.filters["to_json"] = json.dumps
    template = env.from_string((ROLE / "templates" / "distroforge.yaml.j2").read_text())
    text = template.render(
        ansible_managed="managed",
        __deploy_puppet_host="10.89.42.7",
        __deploy_puppet_password_names=ROLE_VARS["__deploy_puppet_password_names"],
        __deploy_puppet_secrets=secrets,
    )
    return yaml.safe_load(text)


def test_scenario002_adds_glance_and_placement_to_scenario001():
    one, two = set(_profiles("scenario001")), set(_profiles("scenario002"))
    assert one < two
    assert {"distroforge_integration::glance", "distroforge_integration::placement"} <= two - one


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_puppet_module_a_scenario_uses_is_installed(scenario):
    packages = set(SCENARIOS[scenario]["packages"])
    assert "puppet" in packages
    for profile in _profiles(scenario):
        for module in sorted(_modules_used(_profile_file(profile).read_text()) - PULLED_IN):
            package = MODULE_PACKAGES.get(module, f"puppet-module-{module}")
            assert package in packages, f"{scenario}: {profile} uses {module}::, add {package} to its packages"


def test_every_password_the_profiles_need_is_written_to_hiera():
    config = (PROFILES / "manifests" / "config.pp").read_text()
    required = set(re.findall(r"^\s*String \$(\w+),$", config, re.MULTILINE))
    names = ROLE_VARS["__deploy_puppet_password_names"]
    data = _render_hiera({name: f"pw-{name}" for name in names})
    written = {key.removeprefix("distroforge_integration::config::") for key in data}
    assert required <= written, (
        f"config.pp needs {sorted(required - written)}; add them to __deploy_puppet_password_names"
    )
    assert data["distroforge_integration::config::glance_password"] == "pw-glance_password"
    assert data["distroforge_integration::config::host"] == "10.89.42.7"


def test_hiera_data_keeps_odd_passwords_intact():
    names = ROLE_VARS["__deploy_puppet_password_names"]
    odd = 'a"b: #c\\'
    data = _render_hiera({name: odd for name in names})
    assert {data[f"distroforge_integration::config::{name}"] for name in names} == {odd}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_checks_are_openstack_arguments_with_optional_expected_text(scenario):
    checks = SCENARIOS[scenario]["checks"]
    assert any(check["argv"][:2] == ["token", "issue"] for check in checks)
    for check in checks:
        assert set(check) <= {"name", "argv", "expect"}, check
        assert all(isinstance(arg, str) for arg in check["argv"]), check
        assert isinstance(check.get("expect", ""), str), check


def test_scenario002_checks_glance_and_placement():
    argvs = [" ".join(check["argv"]) for check in SCENARIOS["scenario002"]["checks"]]
    assert any(argv.startswith("image show distroforge-tiny") for argv in argvs)
    assert any(argv.startswith("resource provider list") for argv in argvs)
    assert {9292, 8778} <= {port["port"] for port in SCENARIOS["scenario002"]["ports"]}
