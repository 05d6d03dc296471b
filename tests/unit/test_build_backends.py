"""Build backends are plug-ins: one module each, one registry, nothing else names them.

A backend written here, in the test, and registered is built with by the
runner end to end, ordered by build_queue and offered as a choice, which is
what "adding a backend touches no existing file but the registry" means.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._build import backends, queue, runner
from ansible_collections.distroforge.openstack.plugins.module_utils._build.backends.base import (
    Backend,
    PackageKind,
    interface_problems,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._build.buildlog import BuildLog
from ansible_collections.distroforge.openstack.plugins.module_utils._build.deps import Relations
from ansible_collections.distroforge.openstack.plugins.module_utils._build.sandbox import (
    BUILD_ROOT,
    base_env,
    bwrap_argv,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._build.source import BuildInputs
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._sources.runner import poll_and_queue

from .buildfixtures import T0, make_upstream
from .gitrepos import commit, init

TOP = Path(__file__).resolve().parents[2]
BACKENDS_DIR = TOP / "plugins" / "module_utils" / "_build" / "backends"


# --- every registered backend implements the whole interface, in its own module


@pytest.mark.parametrize("name", backends.names())
def test_every_registered_backend_implements_the_whole_interface(name, tmp_path):
    cls = backends.get(name)
    assert interface_problems(cls) == []
    assert cls.__module__.rsplit(".", 1)[-1] == name, "one module per backend, named after it"
    assert (BACKENDS_DIR / f"{name}.py").is_file()
    assert cls.kind in backends.kinds()
    backend = cls(cls.parse_options({}), str(tmp_path))
    for method in ("prepare", "build", "collect", "describe"):
        assert callable(getattr(backend, method))
    assert set(cls.rebuild_settings) <= set(backends.module_options())


def test_the_registry_is_the_only_list_of_backends():
    """No backend module outside the registry, and no name ladder left in the engine or the modules."""
    modules = {path.stem for path in BACKENDS_DIR.glob("*.py")} - {"__init__", "base", "kinds"}
    assert modules == set(backends.names())
    names = "|".join(backends.names())
    quoted = rf"""['"]({names})['"]"""
    ladder = re.compile(rf"(==|!=)\s*{quoted}|{quoted}\s*(==|!=|in\s)|in\s*\(\s*{quoted}")
    found = []
    for path in [*(TOP / "plugins").rglob("*.py"), *(TOP / "roles").rglob("*.yml"), *(TOP / "playbooks").glob("*.yml")]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ladder.search(line):
                found.append(f"{path.relative_to(TOP)}:{number}: {line.strip()}")
    assert found == []


def _documentation(module: str) -> dict:
    source = (TOP / "plugins" / "modules" / f"{module}.py").read_text(encoding="utf-8")
    doc = re.search(r'DOCUMENTATION = r"""(.*?)"""', source, re.S)
    assert doc
    return yaml.safe_load(doc.group(1))


def _argument_spec(monkeypatch) -> dict:
    module = importlib.import_module("ansible_collections.distroforge.openstack.plugins.modules.package_build")
    seen = {}

    class Capture:
        def __init__(self, argument_spec, **_kw):
            seen.update(argument_spec)
            raise SystemExit(0)

    monkeypatch.setattr(module, "DistroforgeModule", Capture)
    with pytest.raises(SystemExit):
        module.main()
    return seen


def test_package_build_choices_and_docs_are_the_registry(monkeypatch):
    """ansible-test needs a literal DOCUMENTATION: it must list exactly the registry's backends."""
    names = list(backends.names())
    doc = _documentation("package_build")
    assert doc["options"]["backend"]["choices"] == names
    spec = _argument_spec(monkeypatch)
    assert spec["backend"]["choices"] == names
    for option in backends.module_options():
        assert option in doc["options"] and option in spec, f"package_build has no option {option}"
        assert any(option in backends.get(n).option_names() for n in names)
    roles = TOP / "roles"
    package_build = yaml.safe_load((roles / "package_build/meta/argument_specs.yml").read_text())
    assert package_build["argument_specs"]["main"]["options"]["package_build_backend"]["choices"] == names
    setup = yaml.safe_load((roles / "builder_setup/meta/argument_specs.yml").read_text())
    assert setup["argument_specs"]["main"]["options"]["builder_setup_backends"]["choices"] == names


@pytest.mark.parametrize("name", backends.names())
def test_builder_setup_knows_what_each_backend_needs(name):
    data = yaml.safe_load((TOP / f"roles/builder_setup/vars/backends/{name}.yml").read_text())
    needs = data[f"__builder_setup_backend_{name}"]
    assert needs["name"] == name
    assert set(needs["packages"]) <= {"Debian", "RedHat"} and needs["packages"]
    assert isinstance(needs["subids"], bool)


def test_builder_setup_installs_what_dpkg_checkbuilddeps_always_requires():
    # dpkg-dev only recommends build-essential: a builder image made without recommends had every
    # listed package and no build-essential, and every DEB build failed "Unmet build dependencies"
    data = yaml.safe_load((TOP / "roles/builder_setup/vars/backends/dpkg.yml").read_text())
    assert "build-essential" in data["__builder_setup_backend_dpkg"]["packages"]["Debian"]


@pytest.mark.parametrize("name", backends.names())
def test_a_backend_without_its_tools_fails_with_one_line_naming_it(name, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _tool: None)
    cls = backends.get(name)
    backend = cls(cls.parse_options({}), str(tmp_path))
    with pytest.raises(InputError) as err:
        backend.prepare(BuildLog(str(tmp_path / "build.log"), 60))
    message = str(err.value)
    assert message.startswith(f"backend {name}: ") and "\n" not in message
    assert not (tmp_path / "sbuild-chroots").exists(), "nothing made before the tools are there"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"rpm_nodepz": True}, "options: 'rpm_nodepz' is not a setting of any build backend"),
        ({"": 1}, "options: '' is not a setting of any build backend"),
    ],
)
def test_unknown_backend_settings_are_refused_with_one_line(raw, error, tmp_path):
    settings = runner.BuildSettings(backend="dpkg", workdir=str(tmp_path), mirror_dir=str(tmp_path), options=raw)
    with pytest.raises(InputError, match=re.escape(error)):
        settings.validate()


@pytest.mark.parametrize("name", ["koji", "", "RPMBUILD", "rpmbuild ", None, ["dpkg"]])
def test_an_unknown_backend_names_the_choices(name, tmp_path):
    with pytest.raises(InputError, match=r"backend: '.*' is not one of rpmbuild, dpkg, sbuild, mock on this builder"):
        runner.BuildSettings(backend=name, workdir=str(tmp_path), mirror_dir=str(tmp_path)).validate()


def test_rebuild_options_pass_back_only_what_the_backend_recorded():
    recorded = {"rpm_nodeps": False, "rpm_dist": ".el9", "sbuild_chroot": "bookworm-amd64-x.tar.zst"}
    assert backends.get("rpmbuild").rebuild_options(recorded) == {"rpm_nodeps": False, "rpm_dist": ".el9"}
    assert backends.get("rpmbuild").rebuild_options({"rpm_nodeps": True, "rpm_dist": None}) == {"rpm_nodeps": True}
    for name in ("dpkg", "sbuild", "mock"):
        assert backends.get(name).rebuild_options(recorded) == {}


@pytest.mark.parametrize(
    ("path", "binary"),
    [
        ("/x/a_1.0_all.deb", True),
        ("/x/a-1.0-1.noarch.rpm", True),
        ("/x/a-1.0-1.src.rpm", False),
        ("/x/a_1.0.dsc", False),
        ("/x/a_1.0_amd64.buildinfo", False),
        ("/x/a.deb.txt", False),
    ],
)
def test_binary_packages_are_told_apart_by_their_kind(path, binary):
    assert backends.is_binary_package(path) is binary


# --- registering: what the registry refuses


def _broken(**attrs: Any) -> type:
    base = {"name": "broken", "kind": backends.get("dpkg").kind, "describe": lambda self: {}}
    base.update(
        {
            "build": lambda self, inputs, packaging, against: None,
            "collect": lambda self, inputs, packaging: [],
        }
    )
    base.update(attrs)
    return type("Broken", (Backend,), {k: v for k, v in base.items() if v is not ...})


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"collect": ...}, "does not implement collect"),
        ({"describe": ..., "build": ...}, "does not implement build, describe"),
        ({"name": "Bad Name"}, "name 'Bad Name' is not a lowercase word"),
        ({"name": ...}, "name None is not a lowercase word"),
        ({"kind": ".deb"}, "kind is not a PackageKind"),
        ({"options_type": dict}, "options_type is not a dataclass"),
        ({"toolchain_probes": {"x": ""}}, "toolchain_probes is not a mapping"),
        ({"name": "dpkg"}, "the name 'dpkg' is taken"),
    ],
)
def test_the_registry_refuses_an_incomplete_backend(attrs, problem, monkeypatch):
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY))
    with pytest.raises(TypeError, match=re.escape(problem)):
        backends.register(_broken(**attrs))
    assert "broken" not in backends.names()


def test_the_registry_refuses_options_without_defaults(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Needy:
        level: int

    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY))
    with pytest.raises(TypeError, match="options_type needs a default for every field"):
        backends.register(_broken(options_type=Needy))
    with pytest.raises(TypeError, match="is not a subclass of Backend"):
        backends.register(dict)  # type: ignore[arg-type]


# --- a new backend (and a new packaging kind), written only here


@dataclasses.dataclass(frozen=True)
class FakePackaging:
    name: str
    epoch: int | None = None


class FakeKind(PackageKind):
    """Packaging in one file, ``FAKEPKG``: ``name:``, ``provides:`` and ``build-requires:`` lines."""

    name = "fake"
    binary_suffix = ".fakepkg"
    metadata_suffixes = (".fakelog",)

    @staticmethod
    def _fields(text: str) -> dict[str, list[str]]:
        fields: dict[str, list[str]] = {}
        for line in text.splitlines():
            key, _colon, value = line.partition(":")
            fields.setdefault(key.strip(), []).extend(value.split())
        return fields

    def read_packaging(self, distgit_dir: str, where: str) -> FakePackaging:
        path = Path(distgit_dir, "FAKEPKG")
        if not path.is_file():
            raise InputError(f"{where}: the distgit has no FAKEPKG")
        return FakePackaging(self._fields(path.read_text())["name"][0])

    def nvr(self, packaging: Any, version: Any, artifacts: Sequence[str]) -> str:
        return f"{packaging.name}-{version.upstream_version}"

    def is_packaging_file(self, name: str) -> bool:
        return name == "FAKEPKG"

    def relations(self, text: str) -> Relations:
        fields = self._fields(text)
        return Relations(set(fields.get("provides", [])), set(fields.get("build-requires", [])))


@dataclasses.dataclass(frozen=True)
class FakeOptions:
    fake_level: int = 3


class FakeBackend(Backend):
    """Packs the source tarball's digest and the packages it builds against, in the sandbox."""

    name = "fake"
    kind = FakeKind()
    options_type = FakeOptions
    required_tools = ("sh",)
    toolchain_probes: ClassVar[dict[str, tuple[str, ...]]] = {"fake-sh": ("sh", "-c", "echo fake-sh 1.0")}

    def build(self, inputs: BuildInputs, packaging: Any, against: Sequence[str]) -> None:
        deps = Path(inputs.build_dir, "deps")
        deps.mkdir()
        for path in against:
            shutil.copy2(path, deps)
        out = f"{BUILD_ROOT}/fake-out/{packaging.name}-{inputs.source.version.upstream_version}"
        script = (
            f"mkdir -p {BUILD_ROOT}/fake-out && {{ echo level {self.options.fake_level};"
            f" sha256sum {BUILD_ROOT}/{Path(inputs.source.tarball).relative_to(inputs.build_dir)} | cut -c1-64;"
            f" cat {BUILD_ROOT}/deps/* 2>/dev/null || true; }} > {out}.fakepkg && echo built > {out}.fakelog"
        )
        env = base_env(inputs.source.version.commit_time)
        inputs.log.run(bwrap_argv(inputs.build_dir, ["sh", "-c", script], env=env), what="fake build (no network)")

    def collect(self, inputs: BuildInputs, packaging: Any) -> list[str]:
        made = sorted(str(p) for p in Path(inputs.build_dir, "fake-out").glob("*"))
        if not any(p.endswith(".fakepkg") for p in made):
            raise InputError(f"{inputs.project}: the fake backend made no .fakepkg")
        return made

    def describe(self) -> dict[str, Any]:
        return {"fake_level": self.options.fake_level}


@pytest.fixture
def fake_registered(monkeypatch):
    """The registry with the fake backend added (a copy: the real one is left as it was)."""
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY))
    backends.register(FakeBackend)
    return FakeBackend


def _fake_distgit(root: Path, name: str, provides: str, needs: str = "") -> Path:
    dg = init(root / "distgit" / f"{name}-distgit")
    text = f"name: {name}\nprovides: {provides}\n" + (f"build-requires: {needs}\n" if needs else "")
    commit(dg, "Packaging", T0 + 7200, {"FAKEPKG": text})
    return dg


@pytest.mark.skipif(not shutil.which("bwrap"), reason="needs bubblewrap (run `make`)")
def test_a_backend_added_only_in_the_registry_builds_end_to_end_in_waves(fake_registered, tmp_path, monkeypatch):
    up_a, up_b = make_upstream(tmp_path / "a"), make_upstream(tmp_path / "b")
    dg_a = _fake_distgit(tmp_path, "fakea", "fakea-bin")
    dg_b = _fake_distgit(tmp_path, "fakeb", "fakeb-bin", needs="fakea-bin")
    pkgs = [
        {"project": p, "name": p, "upstream": str(u), "distgit": str(d), "distgit_branch": "master"}
        for p, u, d in (("fakeb", up_b, dg_b), ("fakea", up_a, dg_a))
    ]
    # build_queue reads the new kind's packaging file and puts B a wave after A
    db, cache = str(tmp_path / "state.db"), str(tmp_path / "git")
    poll_and_queue(pkgs, release="zed", db_path=db, mirror_dir=cache)
    plan = queue.plan(db, "zed", pkgs, ["b1"], mirror_dir=cache)
    assert [(j["project"], j["wave"]) for j in plan["jobs"]] == [("fakea", 0), ("fakeb", 1)]

    jobs = [
        runner.BuildJob(j["project"], j["name"], j["upstream"], j["distgit"], j["commit_hash"], j["distro_hash"])
        for j in plan["jobs"]
    ]
    waves = [j["wave"] for j in plan["jobs"]]

    def build(where: str, **options: Any) -> list[runner.BuildResult]:
        settings = runner.BuildSettings(
            backend="fake", workdir=str(tmp_path / where), mirror_dir=str(tmp_path / where / "git"), options=options
        )
        return runner.build_many(jobs, settings, waves=waves)

    result_a, result_b = build("w1", fake_level=7, rpm_dist=".el9")  # other backends' settings are left alone
    assert (result_a.status, result_b.status) == ("SUCCESS", "SUCCESS"), result_a.log_tail or result_b.log_tail
    assert result_a.backend == "fake" and result_a.nvr.startswith("fakea-0.1.1")
    package_a = next(a for a in result_a.artifacts if a.endswith(".fakepkg"))
    assert result_a.packages == [package_a], "the kind tells the package from the build's metadata (.fakelog)"
    # B was built against A's fresh package: it is inside B's package, and in B's buildinfo
    package_b = Path(next(a for a in result_b.artifacts if a.endswith(".fakepkg"))).read_text()
    assert Path(package_a).read_text() in package_b
    info = json.loads(Path(result_b.buildinfo).read_text())
    assert info["backend"] == "fake" and info["settings"] == {"fake_level": 7}
    assert info["inputs"]["build_against"] == [
        {"name": Path(package_a).name, "sha256": hashlib.sha256(Path(package_a).read_bytes()).hexdigest()}
    ]
    assert info["toolchain"]["fake-sh"] == "fake-sh 1.0" and "rpmbuild" not in info["toolchain"]
    assert "fake build (no network)" in Path(result_b.log).read_text()
    assert backends.is_binary_package(package_a) and ".fakelog" in backends.metadata_suffixes()
    # the runner's guarantees hold for the new backend too: another work directory, the same bytes
    again = build("elsewhere/w2", fake_level=7)
    for first, second in zip((result_a, result_b), again, strict=True):
        assert {Path(a).name: Path(a).read_bytes() for a in first.artifacts} == {
            Path(a).name: Path(a).read_bytes() for a in second.artifacts
        }
    # package_build offers it as a choice
    assert _argument_spec(monkeypatch)["backend"]["choices"][-1] == "fake"


def test_a_new_backend_needs_no_change_outside_its_module_and_the_registry():
    """The engine imports backends through the registry only (so a new module is picked up there)."""
    users = [TOP / "plugins/module_utils/_build/runner.py", TOP / "plugins/module_utils/_build/queue.py"]
    users += [TOP / "plugins/module_utils/_reproduce.py", TOP / "plugins/modules/package_build.py"]
    for path in users:
        text = path.read_text(encoding="utf-8")
        for name in backends.names():
            assert not re.search(rf"backends[./]{name}\b|backends import .*\b{name}\b", text), (path, name)
