"""Two packages of one distro where B build-depends on A (and imports it while building)."""

from __future__ import annotations

from pathlib import Path

from .buildfixtures import CHANGELOG, CONTROL, RULES, SETUP_CFG, SETUP_PY, SPEC, T0, make_distgit, make_upstream
from .gitrepos import commit, git, init

# B's build imports A's module: it only works when A's fresh package is at hand.
IMPORT_A = "python3 -c 'import hellodf.feature; print(\"built against\", hellodf.feature.__file__)'"

SPEC_B = (
    SPEC.replace("hellodf", "hellodep")
    .replace("BuildRequires:  python3-pbr", "BuildRequires:  python3-pbr\nBuildRequires:  python3-hellodf")
    .replace("%build\n", f"%build\n{IMPORT_A}\n")
)
CONTROL_B = CONTROL.replace("hellodf", "hellodep").format(extra=", python3-hellodf (>= 1:0.1)")
RULES_B = RULES.replace("hellodf", "hellodep") + f"\noverride_dh_auto_build:\n\t{IMPORT_A}\n\tdh_auto_build\n"


def make_upstream_b(root: Path) -> Path:
    """Upstream of B (pbr project ``hellodep``), tagged 0.1.0 plus one commit."""
    up = init(root / "upstream" / "hellodep")
    commit(
        up,
        "Initial import",
        T0,
        {
            "setup.py": SETUP_PY,
            "setup.cfg": SETUP_CFG.replace("hellodf", "hellodep"),
            "README.rst": "hellodep\n========\n",
            "hellodep/__init__.py": "import hellodf\n",
        },
    )
    git(up, "tag", "-a", "-m", "0.1.0", "0.1.0", when=T0 + 10)
    commit(up, "Use the feature", T0 + 3600, {"hellodep/feature.py": "from hellodf.feature import FEATURE\n"})
    return up


def make_distgit_b(root: Path) -> Path:
    """Distgit of B: spec and debian/ that build-depend on A's python3-hellodf."""
    dg = init(root / "distgit" / "hellodep-distgit", branch="rpm-master")
    files = {
        "python-hellodep.spec": SPEC_B,
        "debian/control": CONTROL_B,
        "debian/rules": RULES_B,
        "debian/changelog": CHANGELOG.replace("hellodf", "hellodep"),
        "debian/source/format": "3.0 (quilt)\n",
        "debian/copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    }
    commit(dg, "Packaging", T0 + 7200, files)
    (dg / "debian" / "rules").chmod(0o755)
    git(dg, "add", "-A")
    git(dg, "commit", "-q", "-m", "rules executable", when=T0 + 7300)
    return dg


def make_chain(root: Path) -> tuple[Path, Path, Path, Path]:
    """(upstream A, distgit A, upstream B, distgit B)."""
    return make_upstream(root), make_distgit(root), make_upstream_b(root), make_distgit_b(root)


def make_independent(root: Path, name: str = "hellothree") -> tuple[Path, Path]:
    """Another package (``python3-<name>``), depending on nothing of the distro."""
    up = init(root / "upstream" / name)
    commit(
        up,
        "Initial import",
        T0,
        {
            "setup.py": SETUP_PY,
            "setup.cfg": SETUP_CFG.replace("hellodf", name),
            "README.rst": f"{name}\n",
            f"{name}/__init__.py": "",
        },
    )
    git(up, "tag", "-a", "-m", "0.1.0", "0.1.0", when=T0 + 10)
    dg = init(root / "distgit" / f"{name}-distgit", branch="rpm-master")
    files = {
        f"python-{name}.spec": SPEC.replace("hellodf", name),
        "debian/control": CONTROL.replace("hellodf", name).format(extra=""),
        "debian/rules": RULES.replace("hellodf", name),
        "debian/changelog": CHANGELOG.replace("hellodf", name),
        "debian/source/format": "3.0 (quilt)\n",
        "debian/copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    }
    commit(dg, "Packaging", T0 + 7200, files)
    (dg / "debian" / "rules").chmod(0o755)
    git(dg, "add", "-A")
    git(dg, "commit", "-q", "-m", "rules executable", when=T0 + 7300)
    return up, dg
