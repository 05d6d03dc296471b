"""The templates of the package kinds: the collection's own (embedded), and a distribution's on top.

Every kind starts from ``python-library``'s files (``spec.j2`` and
``debian/*.j2``); a kind's own file of the same name replaces it, usually
by extending it (``{% extends "python-library/spec.j2" %}``) and filling a
block.  A distribution may keep its own templates in a directory of the
same layout (``templates_dir``): its files win over the collection's, and a
directory there is a new kind.

Ansible ships a module's module_utils as Python files only, so modules read
the copy embedded in :mod:`.template_data` (``tools/embed_packaging_templates.py``
writes it from ``kinds/``; a test fails when the two differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from .._common.errors import InputError
from . import template_data

try:
    import jinja2
except ImportError:  # ansible-test imports modules without it; need_jinja2() says so when used
    jinja2 = None  # type: ignore[assignment]

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with Ansible
    yaml = None  # type: ignore[assignment]

SOURCE_DIR = Path(__file__).with_name("kinds")
BASE_KIND = "python-library"
LICENSES = "licenses.yml"


def need_jinja2() -> None:
    """Fail in one line when Jinja2 is missing on this host."""
    if jinja2 is None:
        raise InputError("the Python library Jinja2 is not installed on this host; pip install Jinja2")


def read_dir(path: Path) -> dict[str, str]:
    """Every template (``*.j2``) and ``licenses.yml`` under ``path``, by relative path."""
    if not path.is_dir():
        raise InputError(
            f"templates_dir: {path} is not a directory; give a directory laid out as the collection's templates"
        )
    found = {}
    for item in sorted(path.rglob("*")):
        if item.is_file() and (item.suffix == ".j2" or item.name == LICENSES):
            found[item.relative_to(path).as_posix()] = item.read_text(encoding="utf-8")
    return found


@dataclass(frozen=True)
class TemplateSet:
    """The templates in force: the collection's, with a distribution's over them."""

    files: Mapping[str, str]

    @classmethod
    def load(cls, templates_dir: Optional[Path] = None, *, embedded: bool = True) -> "TemplateSet":
        """The collection's templates (the embedded copy, or ``kinds/``) with ``templates_dir``'s over them."""
        files = dict(template_data.TEMPLATES if embedded else read_dir(SOURCE_DIR))
        if templates_dir is not None:
            files.update(read_dir(Path(templates_dir)))
        return cls(files)

    @property
    def kinds(self) -> list[str]:
        """The kinds these templates define: the top directories holding a template."""
        return sorted({name.split("/", 1)[0] for name in self.files if "/" in name and name.endswith(".j2")})

    def outputs(self, kind: str) -> dict[str, str]:
        """Output path (``spec`` for the spec) → template name, for ``kind``."""
        if kind not in self.kinds:
            raise InputError(f"kind: {kind!r} is not a package kind; use one of {', '.join(self.kinds)}")
        chosen: dict[str, str] = {}
        for owner in (BASE_KIND, kind):
            for name in self.files:
                if name.startswith(f"{owner}/") and name.endswith(".j2"):
                    chosen[name[len(owner) + 1 : -len(".j2")]] = name
        return dict(sorted(chosen.items()))

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Template ``name`` rendered with ``context`` (an undefined variable is an error)."""
        need_jinja2()
        env = jinja2.Environment(
            loader=jinja2.DictLoader(dict(self.files)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # packaging files, not HTML
        )
        try:
            return env.get_template(name).render(**context)
        except jinja2.TemplateError as exc:
            where = getattr(exc, "name", None) or name
            line = getattr(exc, "lineno", None)
            raise InputError(f"template {where}{f' line {line}' if line else ''}: {exc}; fix the template") from None

    def licenses(self) -> dict[str, dict[str, Any]]:
        """The license table (``licenses.yml``)."""
        if yaml is None:  # pragma: no cover
            raise InputError("the Python library PyYAML is not installed on this host; pip install PyYAML")
        try:
            data = yaml.safe_load(self.files.get(LICENSES, "")) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"templates: {LICENSES} does not parse ({str(exc).splitlines()[0]}); fix it") from None
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and v.get("rpm") and v.get("debian") for v in data.values()
        ):
            raise InputError(f"templates: {LICENSES} must map SPDX names to {{match, rpm, debian}}; fix it")
        return data
