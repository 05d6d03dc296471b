"""Build waves from the packaging: spec (rpm's parser and our fallback) and debian/control."""

import glob
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._build import deps, specread

TOP = Path(__file__).resolve().parents[2]
EXAMPLE = TOP / "examples" / "distro" / "packaging"


@pytest.mark.parametrize("project", ["keystone", "keystoneclient", "keystonemiddleware"])
def test_fallback_spec_parser_agrees_with_rpm_on_real_specs(project):
    if specread.rpm_lib is None:
        pytest.skip("rpm's Python bindings are not installed")
    text = Path(glob.glob(str(EXAMPLE / project / "*.spec"))[0]).read_text()
    assert specread.read(text).by_rpm  # the comparison is with rpm's own reading
    assert deps.spec_relations(text) == deps.spec_relations_fallback(text)


def test_spec_relations_expand_macros_and_subpackages():
    spec = (
        "%global pypi_name alpha\nName: python-%{pypi_name}\nVersion: 1\nRelease: 1\nSummary: s\nLicense: x\n"
        "BuildRequires: python3-beta >= 2, python3-gamma\nBuildRequires: python3-pbr\n"
        "%description\nd\n%package -n python3-%{pypi_name}\nSummary: s\n%description -n python3-%{pypi_name}\nd\n"
        "%package doc\nSummary: s\n%description doc\nd\n"
    )
    for parse in (deps.spec_relations, deps.spec_relations_fallback):
        found = parse(spec)
        assert found.provides == {"python-alpha", "python3-alpha", "python-alpha-doc"}, parse
        assert {"python3-beta", "python3-gamma", "python3-pbr"} <= found.build_requires, parse


def test_control_relations_read_build_depends_with_alternatives():
    control = (
        "Source: alpha\nBuild-Depends: debhelper-compat (= 13),\n python3-beta (>= 1) | python3-beta2,\n"
        " python3-gamma [amd64]\nBuild-Depends-Indep: python3-delta\n\n"
        "Package: python3-alpha\nArchitecture: all\n\nPackage: alpha-doc\nArchitecture: all\n"
    )
    found = deps.control_relations(control)
    assert found.provides == {"python3-alpha", "alpha-doc"}
    assert {"python3-beta", "python3-beta2", "python3-gamma", "python3-delta"} <= found.build_requires


def test_waves_follow_build_dependencies_inside_the_distro():
    rel = deps.Relations
    relations = {
        "keystone": rel({"python3-keystone"}, {"python3-keystoneclient", "python3-keystonemiddleware"}),
        "keystonemiddleware": rel({"python3-keystonemiddleware"}, {"python3-keystoneclient", "python3-requests"}),
        "keystoneclient": rel({"python3-keystoneclient"}, {"python3-pbr"}),
        "oslo-config": rel({"python3-oslo.config"}, set()),
    }
    waves, cycle = deps.waves(relations)
    assert waves == [["keystoneclient", "oslo-config"], ["keystonemiddleware"], ["keystone"]]
    assert cycle == []
    # what a failure blocks: the direct build dependencies inside the distro, never outside packages
    assert deps.needs(relations) == {
        "keystone": {"keystoneclient", "keystonemiddleware"},
        "keystonemiddleware": {"keystoneclient"},
        "keystoneclient": set(),
        "oslo-config": set(),
    }


def test_a_dependency_cycle_is_reported_and_built_last():
    rel = deps.Relations
    waves, cycle = deps.waves({"a": rel({"a"}, {"b"}), "b": rel({"b"}, {"a"}), "c": rel({"c"}, set())})
    assert waves == [["c"], ["a", "b"]]
    assert cycle == ["a", "b"]
