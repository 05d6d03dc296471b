"""One word per concept (docs/glossary.md), held by a test.

- An old word is gone from the tree (release notes aside) but for the places that read what was written with it
  (OLD_WORDS, each with why): ``distgit_hash`` is ``distro_hash`` (DLRN's word).
- A playbook's variables carry the collection's prefix, ``distroforge_`` (internal ones ``__distroforge_``); a
  role's variables carry the role's name and are passed to that role; an old name a user may still pass is read
  for one release (DEPRECATED, announced in a changelog fragment's deprecated_features).
- The glossary defines the words this file holds the tree to.
"""

from __future__ import annotations

import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment, nodes

TOP = Path(__file__).resolve().parents[2]
ROLES = TOP / "roles"
PREFIXES = ("distroforge_", "__distroforge_")

# old word -> (the word now, {tracked file still saying the old one: why})
OLD_WORDS = {
    "distgit_hash": (
        "distro_hash",
        {
            "plugins/modules/build_status.py": "an alias of the distro_hash option, for playbooks written before",
            "plugins/modules/package_build.py": "reads jobs that playbooks written before the rename saved",
            "plugins/module_utils/_reproduce.py": "reads buildinfo.json written before the state DB's migration 5",
            "plugins/module_utils/_statedb/schema.py": "the schema before migration 5, and the migration renaming it",
            "tests/unit/test_statedb.py": "makes state DBs of the old schema for the migration to read",
            "tests/unit/test_statedb_v5.py": "makes a state DB and a buildinfo.json of before migration 5",
            "docs/glossary.md": "says what the word was before",
        },
    ),
    "full_hash": ("repo_hash", {"docs/glossary.md": "the DLRN column: the promoter's word"}),
}

# Release notes name the old words they retire: not held to the glossary.
HISTORY = ("changelogs/", "CHANGELOG.rst")

# Old playbook variable names still read for one release, beside the prefixed name that replaced them.
DEPRECATED = {
    "tempest_target": "tempest.yml, now distroforge_tempest_target",
    "tempest_openrc": "tempest.yml, now distroforge_tempest_openrc",
    "tempest_fail_on_verdict": "tempest.yml, now distroforge_tempest_fail_on_verdict",
    "deploy_nodes": "deploy.yml, now distroforge_deploy_nodes",
    "deploy_keep_node": "deploy.yml, now distroforge_keep_nodes",
}

# Names Ansible and Jinja give every template: magic variables and global functions.
ANSIBLE_NAMES = {
    "groups", "hostvars", "inventory_hostname", "inventory_hostname_short", "group_names", "item", "omit",
    "playbook_dir", "inventory_dir", "role_path", "lookup", "query", "q", "now", "undef",
    "range", "dict", "lipsum", "cycler", "joiner", "namespace",
}  # fmt: skip

# Glossary words: the words the old ones became, and the git mirror directory.
TERMS = sorted({entry[0] for entry in OLD_WORDS.values()} | {"mirror_dir"})

SET_FACT = ("ansible.builtin.set_fact", "set_fact")
ADD_HOST = ("ansible.builtin.add_host", "add_host")
ADD_HOST_FIELDS = {"name", "hostname", "host", "groups", "group", "groupname"}
INCLUDE_ROLE = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")
INCLUDE_TASKS = ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "include_tasks", "import_tasks")
IMPORT_PLAYBOOK = ("ansible.builtin.import_playbook", "import_playbook")
TASK_LISTS = ("block", "rescue", "always")
PLAY_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")
CONDITIONS = {"when", "that", "changed_when", "failed_when", "until"}
# -e name=..., -e '{"name": ...}' in a playbook's comments
DOCUMENTED = re.compile(r"""-e\s+['"]?\{?"?([A-Za-z_]\w*)""")


def role_options() -> dict[str, set[str]]:
    """Every role's variables, as its argument spec lists them."""
    options = {}
    for spec in ROLES.glob("*/meta/argument_specs.yml"):
        entry_points = yaml.safe_load(spec.read_text())["argument_specs"].values()
        options[spec.parts[-3]] = {name for entry in entry_points for name in entry.get("options", {})}
    return options


OPTIONS = role_options()


def role_of(name: str) -> str | None:
    """The role whose prefix ``name`` carries (the longest one: deploy_puppet before a role named deploy)."""
    owners = [role for role in OPTIONS if name.startswith(role + "_")]
    return max(owners, key=len) if owners else None


@dataclass(frozen=True)
class Setting:
    """A variable a playbook defines: in vars, set_fact, register, loop_var, add_host, or a documented -e."""

    name: str
    how: str
    where: str
    roles: frozenset[str]  # the roles it reaches


class Playbooks:
    """The variables the playbooks under one directory set and read."""

    def __init__(self, top: Path):
        self.top = top

    def files(self) -> list[Path]:
        return sorted(self.top.glob("*.yml")) + sorted(self.top.glob("tasks/*.yml"))

    @staticmethod
    def load(path: Path) -> list:
        return yaml.safe_load(path.read_text()) or []

    def included(self, name: str, chain: tuple[Path, ...]) -> Path | None:
        """The file an include or import in ``chain[-1]`` names, as Ansible finds it: beside that file, then beside
        the playbooks; None when its name is templated or when it is on the chain already."""
        if "{{" in name:
            return None
        found = [base / name for base in (chain[-1].parent, self.top) if (base / name).is_file()]
        return found[0] if found and found[0] not in chain else None

    def roles_of_tasks(self, tasks: list | None, chain: tuple[Path, ...]) -> frozenset[str]:
        return frozenset().union(*(self.roles_of_task(task, chain) for task in tasks or [] if isinstance(task, dict)))

    def roles_of_task(self, task: dict, chain: tuple[Path, ...]) -> frozenset[str]:
        """The roles a task runs: itself, in its blocks or in the tasks files it includes."""
        roles = {task[key]["name"].rsplit(".", 1)[-1] for key in INCLUDE_ROLE if key in task}
        for key in TASK_LISTS:
            roles |= self.roles_of_tasks(task.get(key), chain)
        for key in INCLUDE_TASKS:
            if key in task:
                path = self.included(task[key] if isinstance(task[key], str) else task[key]["file"], chain)
                roles |= self.roles_of_file(path, chain) if path else set()
        return frozenset(roles)

    def roles_of_play(self, play: dict, chain: tuple[Path, ...]) -> frozenset[str]:
        """The roles a play runs, or the playbook it imports."""
        for key in IMPORT_PLAYBOOK:
            if key in play:
                path = self.included(play[key], chain)
                return self.roles_of_file(path, chain) if path else frozenset()
        roles = {
            (entry if isinstance(entry, str) else entry["role"]).rsplit(".", 1)[-1] for entry in play.get("roles", [])
        }
        for key in PLAY_TASK_LISTS:
            roles |= self.roles_of_tasks(play.get(key), chain)
        return frozenset(roles)

    def roles_of_file(self, path: Path, chain: tuple[Path, ...] = ()) -> frozenset[str]:
        chain = (*chain, path)
        if path.parent.name == "tasks":
            return self.roles_of_tasks(self.load(path), chain)
        return frozenset().union(*(self.roles_of_play(play, chain) for play in self.load(path)))

    def settings(self, path: Path) -> list[Setting]:
        """Every variable ``path`` defines, with the roles each reaches."""
        shown = path.relative_to(self.top.parent)
        chain = (path,)
        found = []

        def task_settings(tasks: list | None, play: str) -> None:
            for task in tasks or []:
                if not isinstance(task, dict):
                    continue
                where = f"{shown}: {play}task {task.get('name', '(unnamed)')!r}"
                reached = self.roles_of_task(task, chain)
                found.extend(Setting(name, "vars", where, reached) for name in task.get("vars") or {})
                for key in SET_FACT:
                    fields = task.get(key) or {}
                    found.extend(
                        Setting(name, "set_fact", where, frozenset()) for name in fields if name != "cacheable"
                    )
                for key in ADD_HOST:
                    fields = task.get(key) or {}
                    found.extend(Setting(n, "add_host", where, frozenset()) for n in fields if n not in ADD_HOST_FIELDS)
                if "register" in task:
                    found.append(Setting(task["register"], "register", where, frozenset()))
                if "loop_var" in (task.get("loop_control") or {}):
                    found.append(Setting(task["loop_control"]["loop_var"], "loop_var", where, frozenset()))
                for key in TASK_LISTS:
                    task_settings(task.get(key), play)

        if path.parent.name == "tasks":
            task_settings(self.load(path), "")
        else:
            for play in self.load(path):
                named = f"play {play.get('name', '(unnamed)')!r}"
                reached = self.roles_of_play(play, chain)
                found.extend(Setting(name, "vars", f"{shown}: {named}", reached) for name in play.get("vars") or {})
                for entry in play.get("roles", []):
                    if isinstance(entry, dict):
                        role = frozenset({entry["role"].rsplit(".", 1)[-1]})
                        params = [name for name in entry if name not in ("role", "vars")] + list(entry.get("vars", {}))
                        found.extend(Setting(name, "vars", f"{shown}: {named}, roles", role) for name in params)
                for key in PLAY_TASK_LISTS:
                    task_settings(play.get(key), f"{named}, ")
        comments = "\n".join(line for line in path.read_text().splitlines() if line.lstrip().startswith("#"))
        reached = self.roles_of_file(path)
        found.extend(Setting(name, "-e", f"{shown}: comments", reached) for name in DOCUMENTED.findall(comments))
        return found

    def reads(self, path: Path) -> set[str]:
        """Every variable the templates and conditions of ``path`` read that they do not set themselves."""
        names = set()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Jinja on regular expressions in string literals
            for template in templates(self.load(path)):
                tree = Environment().parse(template)
                stored = {name.name for name in tree.find_all(nodes.Name) if name.ctx != "load"}
                names |= {name.name for name in tree.find_all(nodes.Name) if name.ctx == "load"} - stored
        return names


def templates(node, key: str | None = None):
    """Every Jinja template in a parsed YAML file; a condition is an expression without its braces."""
    if isinstance(node, dict):
        for field, value in node.items():
            yield from templates(value, field)
    elif isinstance(node, list):
        for value in node:
            yield from templates(value, key)
    elif isinstance(node, str):
        if key in CONDITIONS:
            yield "{{ " + node + " }}"
        elif "{{" in node or "{%" in node:
            yield node


def misnamed(setting: Setting) -> str | None:
    """What is wrong with the name of a variable a playbook sets, and the fix; None when nothing is."""
    name = setting.name
    if name.startswith(PREFIXES) or name in DEPRECATED:
        return None
    if setting.how == "add_host" and name.startswith("ansible_"):
        return None  # Ansible's connection variables
    role = role_of(name)
    if role and setting.how in ("vars", "-e"):
        if role not in setting.roles:
            return f"{name} is role {role}'s variable, and role {role} is not run where it is set"
        if name not in OPTIONS[role]:
            return f"{name} is not a variable of role {role} (roles/{role}/meta/argument_specs.yml)"
        return None
    internal = "__" if name.startswith("_") else ""
    return f"{name}: name it {internal}distroforge_{name.lstrip('_')}"


def misread(name: str) -> str | None:
    """What is wrong with a variable a playbook reads and does not set; None when nothing is."""
    if name.startswith(PREFIXES) or name.startswith("ansible_") or name in ANSIBLE_NAMES or name in DEPRECATED:
        return None
    if role_of(name):
        return None  # a role's variable: its default or what it returns
    return f"{name} is read and set nowhere: name it distroforge_{name.lstrip('_')} (or list an old name in DEPRECATED)"


def line_of(path: Path, name: str, setting: bool = True) -> int:
    """The line that first sets ``name`` in ``path`` (``setting``), or else the first that says it."""
    lines = path.read_text().splitlines()
    patterns = [rf"^\s*(- )?{name}:|(register|loop_var): {name}$"] if setting else []
    for pattern in (*patterns, rf"(?<!\w){name}(?!\w)"):
        for number, line in enumerate(lines, 1):
            if re.search(pattern, line):
                return number
    return 0


def playbook_findings(top: Path) -> list[str]:
    """Every misnamed variable the playbooks under ``top`` set or read."""
    playbooks = Playbooks(top)
    settings = {path: playbooks.settings(path) for path in playbooks.files()}
    set_somewhere = {setting.name for found in settings.values() for setting in found}
    found = []
    for path, here in settings.items():
        for setting in here:
            if problem := misnamed(setting):
                line = line_of(path, setting.name, setting.how != "-e")
                found.append(f"{setting.where} ({setting.how}), line {line}: {problem}")
        # a name set somewhere is judged where it is set; one read only is what a user passes (-e, inventory)
        for name in sorted(playbooks.reads(path) - set_somewhere):
            if problem := misread(name):
                found.append(f"{path.relative_to(top.parent)}:{line_of(path, name, False)}: {problem}")
    return found


def old_words(name: str, text: str) -> list[str]:
    """Every old word in the text of tracked file ``name`` outside the places listed for it."""
    found = []
    for old, (new, places) in OLD_WORDS.items():
        if name in places:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if old in line:
                found.append(f"{name}:{number}: {old} (say {new})")
    return found


def tracked_texts() -> dict[str, str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=TOP, capture_output=True, check=True).stdout.decode()
    texts = {}
    for name in filter(None, listed.split("\0")):
        if name.startswith(HISTORY):
            continue
        path = TOP / name
        if path.is_file() and path != Path(__file__):
            data = path.read_bytes()
            if b"\0" not in data:
                texts[name] = data.decode(errors="replace")
    return texts


def missing_terms(glossary: str) -> list[str]:
    """The words this file knows that the glossary has no row for."""
    return [term for term in TERMS if not re.search(rf"^\| `{term}`", glossary, re.M)]


def test_old_words_are_gone_but_from_their_compatibility_places():
    found = [hit for name, text in tracked_texts().items() for hit in old_words(name, text)]
    assert not found, (
        "an old word (docs/glossary.md has the one to use; a place that must still read it goes in OLD_WORDS of "
        "tests/unit/test_vocabulary.py, with why):\n" + "\n".join(found)
    )


def test_every_compatibility_place_still_says_its_old_word():
    texts = tracked_texts()
    unused = [
        f"{name}: {old}" for old, (_n, places) in OLD_WORDS.items() for name in places if old not in texts.get(name, "")
    ]
    assert not unused, "drop these places from OLD_WORDS, they no longer need the old word:\n" + "\n".join(unused)


def test_playbook_variables_carry_the_prefix_or_their_roles_name():
    found = playbook_findings(TOP / "playbooks")
    assert not found, (
        "playbook variables: distroforge_<name> (internal: __distroforge_<name>), or <role>_<name> passed to "
        "<role>; an old name still read goes in DEPRECATED of tests/unit/test_vocabulary.py:\n" + "\n".join(found)
    )


def test_every_deprecated_name_is_still_read_and_announced():
    playbooks = Playbooks(TOP / "playbooks")
    read = set().union(*(playbooks.reads(path) for path in playbooks.files()))
    announced = " ".join(
        str(note)
        for fragment in (TOP / "changelogs" / "fragments").glob("*.yml")
        for note in (yaml.safe_load(fragment.read_text()) or {}).get("deprecated_features", [])
    )
    assert sorted(set(DEPRECATED) - read) == [], "no playbook reads these any more: drop them from DEPRECATED"
    assert [name for name in DEPRECATED if f"``{name}``" not in announced] == [], (
        "announce these in a changelog fragment's deprecated_features"
    )


def test_the_glossary_defines_the_words_held_here():
    glossary = (TOP / "docs" / "glossary.md").read_text()
    assert missing_terms(glossary) == []
    assert "`distroforge_`" in glossary, "the glossary states the playbook variables' prefix"


PLANTED = """\
# Run: ansible-playbook planted.yml -e keep_node=true -e distroforge_workdir=<dir> -e repo_configure_label=x
- name: Serve and test
  hosts: localhost
  vars:
    keep_node: false
    distroforge_fine: 1
    tempest_run_scenario: scenario001
  tasks:
    - name: Configure a repository
      ansible.builtin.include_role:
        name: distroforge.openstack.repo_configure
      vars:
        repo_configure_label: current
        repo_configure_labl: typo
        tempest_run_smoke: true
      register: configured
    - name: Remember
      ansible.builtin.set_fact:
        __step: 1
        __distroforge_step: 1
        cacheable: false
      loop: [1]
      loop_control:
        loop_var: pkg
    - name: Add the node
      ansible.builtin.add_host:
        name: node
        groups: [nodes]
        ansible_connection: local
        node_role: test
    - name: Say it
      ansible.builtin.debug:
        msg: "{{ keep_nodes | default(tempest_target) }} {{ hostvars[item].tempest_run_summary }}"
        verbosity: "{{ __distroforge_step }}"
      when: retest | bool

- name: Test
  hosts: localhost
  tasks:
    - name: Run a step
      ansible.builtin.include_tasks: tasks/step.yml
"""

PLANTED_STEP = """\
- name: Test the state
  vars:
    __server: localhost
  block:
    - name: Run Tempest
      ansible.builtin.include_role:
        name: distroforge.openstack.tempest_run
      vars:
        tempest_run_smoke: true
"""


def test_the_scans_find_what_they_are_for(tmp_path):
    top = tmp_path / "playbooks"
    (top / "tasks").mkdir(parents=True)
    (top / "planted.yml").write_text(PLANTED)
    (top / "tasks" / "step.yml").write_text(PLANTED_STEP)
    found = "\n".join(playbook_findings(top))
    flagged = {
        "keep_node: name it distroforge_keep_node",  # play vars, and documented as -e
        "configured: name it distroforge_configured",  # register
        "__step: name it __distroforge_step",  # set_fact
        "pkg: name it distroforge_pkg",  # loop_var
        "node_role: name it distroforge_node_role",  # add_host
        "__server: name it __distroforge_server",  # block vars in a tasks file
        "repo_configure_labl is not a variable of role repo_configure",  # a typo the role would ignore
        "tempest_run_smoke is role tempest_run's variable, and role tempest_run is not run where it is set",
        "tempest_run_scenario is role tempest_run's variable, and role tempest_run is not run",  # play vars
        "keep_nodes is read and set nowhere",
        "retest is read and set nowhere",
    }
    assert {hit for hit in flagged if hit not in found} == set(), found
    fine = ["distroforge_fine", "__distroforge_step:", "ansible_connection", "tempest_target", "tempest_run_summary",
            "hostvars", "item is", "repo_configure_label:", "distroforge_workdir"]  # fmt: skip
    assert [hit for hit in fine if hit in found] == [], found
    assert found.count("keep_node: name it") == 2  # the play's vars and the header's -e
    assert found.count("tempest_run_smoke") == 1  # passed to tempest_run from the tasks file: fine

    assert old_words("plugins/modules/new.py", "x = job['distgit_hash']\nfull_hash = 1\n") == [
        "plugins/modules/new.py:1: distgit_hash (say distro_hash)",
        "plugins/modules/new.py:2: full_hash (say repo_hash)",
    ]
    assert old_words("plugins/modules/build_status.py", "aliases: [distgit_hash]") == []
    assert old_words("docs/glossary.md", "| `repo_hash` | ... | `full_hash` (promoter) |") == []

    assert missing_terms("| `distro_hash` | the packaging commit |\n| `mirror_dir` | git mirrors |") == ["repo_hash"]
    assert missing_terms("`repo_hash` is used in a sentence, not defined") == TERMS
