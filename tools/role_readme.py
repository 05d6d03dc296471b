"""Generate the variables section of each role README from its argument spec.

The section between the BEGIN/END markers is owned by this script, so role
docs cannot drift from ``meta/argument_specs.yml``; the rest of the README
is prose written by hand.  ``--check`` exits 1 and names the stale READMEs.

    tools/role_readme.py            # rewrite stale sections
    tools/role_readme.py --check    # fail on drift (run by make test)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml by tools/role_readme.py; do not edit -->"
END = "<!-- END generated -->"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _default(option: dict[str, Any]) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else ""
    value = option["default"]
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    dumped = dumped.removesuffix("...").strip()
    return f"`{dumped}`" if len(dumped) <= 60 else "*see defaults/main.yml*"


def _rows(options: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    for name, option in options.items():
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        kind = option.get("type", "str")
        if kind == "list" and option.get("elements"):
            kind = f"list of {option['elements']}"
        if option.get("choices"):
            description += " Choices: " + ", ".join(f"`{c}`" for c in option["choices"]) + "."
        rows.append(f"| `{prefix}{name}` | {kind} | {_cell(_default(option))} | {_cell(description)} |")
        if option.get("options"):
            child = f"{prefix}{name}[]." if option.get("type") == "list" else f"{prefix}{name}."
            rows += _rows(option["options"], child)
    return rows


def render(spec_path: Path) -> str:
    """The generated section for one role."""
    specs = yaml.safe_load(spec_path.read_text())["argument_specs"]
    out = [BEGIN, ""]
    for entry, spec in specs.items():
        if len(specs) > 1:
            out += [f"### Entry point `{entry}`", ""]
        out += [spec.get("short_description", ""), ""]
        description = spec.get("description", [])
        for paragraph in description if isinstance(description, list) else [description]:
            out += [paragraph.strip(), ""]
        out += ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
        out += _rows(spec.get("options", {}))
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def updated(readme: str, section: str, role: str) -> str:
    """``readme`` with its generated section replaced (or a new README)."""
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        return head + section + (("\n" + tail) if tail else "")
    return f"# Role `distroforge.openstack.{role}`\n\n## Variables\n\n{section}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is stale")
    parser.add_argument("--roles", default=str(Path(__file__).resolve().parent.parent / "roles"))
    args = parser.parse_args(argv)
    stale = []
    for spec_path in sorted(Path(args.roles).glob("*/meta/argument_specs.yml")):
        role_dir = spec_path.parent.parent
        readme_path = role_dir / "README.md"
        current = readme_path.read_text() if readme_path.exists() else ""
        wanted = updated(current, render(spec_path), role_dir.name)
        if wanted != current:
            stale.append(str(readme_path))
            if not args.check:
                readme_path.write_text(wanted)
    if args.check and stale:
        print(
            f"role README out of date with its argument spec: {', '.join(stale)}; fix: run tools/role_readme.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
