"""The run page: ``runs/<run id>/index.html``, what a pipeline run did, for a person with a browser.

Made from the run manifest (:mod:`.manifest`) alone, plus what the pipeline
knows of its own record in ARA (the playbook ids and the plays with their
start and end): the verdict and why, the tested hash, the packages (NVRs)
of the tested repository, the deploy phases, Tempest's counts, how long
each stage took, and links to ARA's playbook pages, the collected logs, the
reports, the manifest and the votes.

Everything in a manifest is untrusted (test names, package names, messages
come from upstream commits and test nodes): the template is autoescaped
Jinja2, and a value becomes a link only when it is safe to follow -
``http(s)`` URLs, a path on the same server (ARA's), or a file under the
run's own directory (reports, logs), linked relatively so the page works
served or opened from disk. The page has no script and loads nothing from
elsewhere.

The page holds no time of its own making: written twice from the same
inputs it is the same file (the module reports no change).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .._common.errors import InputError
from . import verdict as rule
from .manifest import Manifest

try:
    from jinja2 import DictLoader, Environment, select_autoescape
except ImportError as exc:  # the repo server runs modules with a Python that may lack Jinja2
    _IMPORT_ERROR: Optional[ImportError] = exc
else:
    _IMPORT_ERROR = None

PAGE = "index.html"
ARA_FIX = "give the playbook ARA's ara_playbook action returns (id, and its path, status, started)"
STAGE_FIX = "give the plays ARA's API lists for the run's playbook (name, status, started, ended)"
# versions.csv columns the page shows (DLRN's header, publish/layout.py's VERSIONS_HEADER).
PACKAGE_COLUMNS = ("Project", "Component", "Pkg NVR", "Source Sha", "Dist Sha", "Status")


@dataclasses.dataclass(frozen=True)
class AraPlaybook:
    """A playbook run ARA recorded for this pipeline run."""

    id: int
    path: str = ""
    status: str = ""
    started: str = ""


@dataclasses.dataclass(frozen=True)
class Stage:
    """A stage of the run (a play of pipeline.yml) and how long it took; ``seconds`` None while it runs."""

    name: str
    status: str
    seconds: Optional[float]


@dataclasses.dataclass(frozen=True)
class Link:
    """Text and, when it is safe to follow, where it points."""

    text: str
    href: Optional[str] = None


def playbooks_from(raw: Sequence[Mapping[str, Any]], source: str = "run_page") -> List[AraPlaybook]:
    """ARA playbook records (what its ``ara_playbook`` action or API returns) as :class:`AraPlaybook`."""
    found = []
    for index, item in enumerate(raw):
        where = f"ara_playbooks[{index}]"
        if not isinstance(item, Mapping):
            raise InputError(f"{source}: field '{where}' must be an object; {ARA_FIX}")
        ident = item.get("id")
        if isinstance(ident, bool) or not isinstance(ident, (int, str)) or not str(ident).isdigit():
            raise InputError(f"{source}: field '{where}.id' must be a playbook id (a number); {ARA_FIX}")
        found.append(
            AraPlaybook(
                id=int(ident),
                path=str(item.get("path") or ""),
                status=str(item.get("status") or ""),
                started=str(item.get("started") or ""),
            )
        )
    return found


def stages_from(raw: Sequence[Mapping[str, Any]], source: str = "run_page") -> List[Stage]:
    """Stages from ARA's plays (``name``, ``status``, ``started``, ``ended`` ISO 8601 times)."""
    found = []
    for index, item in enumerate(raw):
        where = f"stages[{index}]"
        if not isinstance(item, Mapping):
            raise InputError(f"{source}: field '{where}' must be an object; {STAGE_FIX}")
        started = _time(item.get("started"), f"{where}.started", source)
        ended = _time(item.get("ended"), f"{where}.ended", source)
        seconds = (ended - started).total_seconds() if started and ended else None
        found.append(Stage(str(item.get("name") or "(unnamed)"), str(item.get("status") or ""), seconds))
    return found


def _time(value: Any, where: str, source: str) -> Optional[datetime.datetime]:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InputError(f"{source}: field '{where}' must be an ISO 8601 time; {STAGE_FIX}")
    try:
        # fromisoformat reads a trailing Z only from Python 3.11 on.
        stamp = datetime.datetime.fromisoformat(re.sub(r"Z$", "+00:00", value))
    except ValueError:
        raise InputError(f"{source}: field '{where}' is not an ISO 8601 time ({value[:40]!r}); {STAGE_FIX}") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def duration(seconds: Optional[float]) -> str:
    """``seconds`` as ``1h 02m``, ``2m 41s`` or ``4.2s``; ``running`` when unknown."""
    if seconds is None:
        return "running"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def safe_url(url: Any) -> Optional[str]:
    """``url`` when it is an ``http(s)`` URL or a path on this server; None for anything else (``javascript:``...)."""
    if not isinstance(url, str) or not url or any(ch in url for ch in "\r\n\t\\"):
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urllib.parse.urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def local_link(run_dir: Path, target: Any) -> Optional[str]:
    """A relative link to ``target`` when it is a file under ``run_dir`` (no ``..``, no link out); else None."""
    if not isinstance(target, str) or not target or "\0" in target:
        return None
    path = Path(target) if os.path.isabs(target) else run_dir / target
    try:
        relative = Path(os.path.normpath(path)).relative_to(os.path.normpath(run_dir))
        # What a planted symlink points at counts, not its name.
        Path(os.path.realpath(path)).relative_to(os.path.realpath(run_dir))
    except ValueError:
        return None
    if not relative.parts or ".." in relative.parts or not path.is_file():
        return None
    return "/".join(urllib.parse.quote(part) for part in relative.parts)


def packages(lines: Sequence[str]) -> List[Dict[str, str]]:
    """The rows of the tested repository's ``versions.csv`` (header first), with the columns the page shows."""
    rows = list(csv.reader(lines))
    if not rows:
        return []
    header = rows[0]
    found = []
    for line in rows[1:]:
        # zip's strict= needs Python 3.10; modules run on older ones. A short row leaves columns empty.
        record = dict(zip(header, line))  # noqa: B905
        shown = {column: record.get(column, "") for column in PACKAGE_COLUMNS}
        for column in ("Source Sha", "Dist Sha"):  # short, as git shows them; the manifest keeps them whole
            shown[column] = shown[column][:12]
        found.append(shown)
    return found


def ara_links(ara_url: str, playbooks: Sequence[AraPlaybook]) -> List[Link]:
    """Links to ARA's page of each playbook (``<ara_url>/playbooks/<id>.html``), or text when ARA's URL is unsafe."""
    base = safe_url(ara_url)
    links = []
    for playbook in playbooks:
        text = f"playbook {playbook.id}" + (f" ({Path(playbook.path).name})" if playbook.path else "")
        text += f", {playbook.status}" if playbook.status else ""
        href = f"{base.rstrip('/')}/playbooks/{playbook.id}.html" if base else None
        links.append(Link(text, href))
    return links


def logs(run_dir: Path) -> List[Link]:
    """The collected logs under ``artifacts/``: its index, each node's, and the directory itself."""
    artifacts = run_dir / "artifacts"
    found = []
    if (artifacts / "index.html").is_file():
        found.append(Link("all nodes (artifacts index)", "artifacts/index.html"))
    if artifacts.is_dir():
        for node in sorted(artifacts.iterdir()):
            if node.is_dir() and not node.is_symlink() and (node / "index.html").is_file():
                found.append(Link(f"{node.name}: logs", local_link(run_dir, str(node / "index.html"))))
        found.append(Link("every collected file", "artifacts/"))
    return found


def render(
    manifest: Manifest,
    run_dir: Union[str, "os.PathLike[str]"],
    *,
    ara_url: str = "",
    playbooks: Sequence[AraPlaybook] = (),
    stages: Sequence[Stage] = (),
) -> str:
    """The run page of ``manifest`` (whose directory is ``run_dir``) as HTML."""
    if _IMPORT_ERROR is not None:
        raise InputError(f"the run page needs Jinja2 on the repo server: {_IMPORT_ERROR}; install python3-jinja2")
    where = Path(run_dir)
    tempest = manifest.tempest
    reports = [Link(name, local_link(where, path)) for name, path in sorted(tempest.reports.items())]
    known = [stage.seconds for stage in stages if stage.seconds is not None]
    return (
        _environment()
        .get_template("page")
        .render(
            m=manifest,
            verdict=manifest.verdict,
            headline=rule.headline(
                manifest.verdict,
                manifest.reasons,
                manifest.tested_hash_note if manifest.tested_hash_is_older else None,
                manifest.repo_hash,
            ),
            repo_link=Link(manifest.repo_url, safe_url(manifest.repo_url)),
            packages=packages(manifest.packages),
            phases=[_phase(phase) for phase in manifest.deploy.phases],
            tempest=tempest,
            reports=reports,
            stages=stages,
            total=duration(sum(known)) if known and len(known) == len(stages) else None,
            ara=ara_links(ara_url, playbooks),
            ara_home=safe_url(ara_url),
            logs=logs(where),
            votes=[(vote, safe_url(vote.url)) for vote in manifest.votes],
            columns=PACKAGE_COLUMNS,
        )
    )


def _phase(phase: Mapping[str, Any]) -> Dict[str, str]:
    seconds = phase.get("duration")
    number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    return {
        "name": str(phase.get("name", "")),
        "status": str(phase.get("status", "")),
        "duration": duration(float(seconds)) if number else "",
        "changed": str(phase.get("changed_resources", "")),
        "message": str(phase.get("message") or ""),
    }


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>run {{ m.run_id }}: {{ verdict | upper }}</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #004153; color: #fff; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
#verdict { padding: 0.4em 0.8em; display: inline-block; font-weight: bold; }
#verdict.passed { background: #dff0d8; color: #1d5c1d; }
#verdict.failed { background: #fbe3e4; color: #a00; }
code { word-break: break-all; }
</style>
</head>
<body>
<h1>Run {{ m.run_id }}</h1>
<p id="verdict" class="{{ verdict }}" data-verdict="{{ verdict }}">{{ verdict | upper }}</p>
<p id="headline">{{ headline }}</p>
{% if m.reasons %}<ul id="reasons">{% for reason in m.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}

<h2>What was tested</h2>
<table id="tested">
<tr><th>release</th><td>{{ m.release }}</td></tr>
<tr><th>backend</th><td>{{ m.backend }}</td></tr>
<tr><th>tested hash</th><td><code id="repo-hash">{{ m.repo_hash }}</code></td></tr>
<tr><th>repository</th><td>{% if repo_link.href %}<a href="{{ repo_link.href }}">{{ repo_link.text }}</a>
{% else %}{{ repo_link.text }}{% endif %}</td></tr>
<tr><th>built this run</th><td>{{ m.built_this_run | join(", ") or "nothing new" }}
{% if m.build_failed %}; build failed: {{ m.build_failed | join(", ") }}{% endif %}</td></tr>
{% if m.tested_hash_is_older %}<tr><th>note</th><td>{{ m.tested_hash_note }}</td></tr>{% endif %}
</table>

<h2>Packages</h2>
<table id="packages">
<thead><tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for package in packages %}<tr>{% for column in columns %}<td>{{ package[column] }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>

<h2>Deploy: {{ m.deploy.status }}{% if m.deploy.scenario %} ({{ m.deploy.scenario }}){% endif %}</h2>
{% if m.deploy.message %}<p>{{ m.deploy.message }}</p>{% endif %}
{% if phases %}<table id="phases">
<thead><tr><th>phase</th><th>status</th><th>duration</th><th>changed resources</th><th>message</th></tr></thead>
<tbody>
{% for phase in phases %}<tr><td>{{ phase.name }}</td><td>{{ phase.status }}</td>
<td class="n">{{ phase.duration }}</td><td class="n">{{ phase.changed }}</td><td>{{ phase.message }}</td></tr>
{% endfor %}</tbody>
</table>{% endif %}

<h2>Tempest</h2>
<table id="tempest">
<thead><tr><th>ran</th><th>passed</th><th>failed</th><th>skipped</th><th>flaky</th><th>expected failures</th>
<th>unexpected successes</th></tr></thead>
<tbody><tr>
<td class="n" data-count="ran">{{ tempest.ran }}</td><td class="n" data-count="passed">{{ tempest.passed }}</td>
<td class="n" data-count="failed">{{ tempest.failed }}</td>
<td class="n" data-count="skipped">{{ tempest.skipped }}</td>
<td class="n" data-count="flaky">{{ tempest.flaky }}</td><td class="n" data-count="xfail">{{ tempest.xfail }}</td>
<td class="n" data-count="uxsuccess">{{ tempest.uxsuccess }}</td>
</tr></tbody>
</table>
{% if tempest.failed_phases %}<p>failed phases: {{ tempest.failed_phases | join(", ") }}</p>{% endif %}
{% if tempest.reason %}<p>{{ tempest.reason }}</p>{% endif %}
{% if tempest.failure %}<p>the Tempest step failed: {{ tempest.failure }}</p>{% endif %}

<h2>Stages</h2>
{% if stages %}<table id="stages">
<thead><tr><th>stage</th><th>status</th><th>duration</th></tr></thead>
<tbody>
{% for stage in stages %}<tr><td>{{ stage.name }}</td><td>{{ stage.status }}</td>
<td class="n">{{ stage.seconds | duration }}</td></tr>
{% endfor %}{% if total %}<tr><th>total</th><td></td><td class="n">{{ total }}</td></tr>{% endif %}
</tbody>
</table>{% else %}<p>No stage timings: this run was not recorded in ARA.</p>{% endif %}

<h2>Records, logs and reports</h2>
<ul id="links">
{% for link in ara %}<li class="ara">ARA: {% if link.href %}<a href="{{ link.href }}">{{ link.text }}</a>
{% else %}{{ link.text }}{% endif %}</li>
{% else %}<li class="ara">ARA: {% if ara_home %}
<a href="{{ ara_home }}">every recorded playbook</a> (this run's record was not found){% else %}not recorded
{% endif %}</li>
{% endfor %}
{% for link in logs %}<li class="logs"><a href="{{ link.href }}">{{ link.text }}</a></li>
{% else %}<li class="logs">no logs collected</li>
{% endfor %}
{% for link in reports %}<li class="report">Tempest {{ link.text }}: {% if link.href %}
<a href="{{ link.href }}">{{ link.href }}</a>{% else %}not under this run{% endif %}</li>
{% endfor %}
<li>
<a href="manifest.json">manifest.json</a> (the run's record{% if m.reproduce.get("rebuild") %}; reproduce it with
<code>{{ m.reproduce["rebuild"] }}</code>{% endif %})</li>
</ul>

{% if votes %}<h2>Votes on the tested hash</h2>
<table id="votes">
<thead><tr><th>job</th><th>result</th><th>user</th><th>notes</th></tr></thead>
<tbody>
{% for vote, href in votes %}<tr><td>{% if href %}<a href="{{ href }}">{{ vote.job_id }}</a>
{% else %}{{ vote.job_id }}{% endif %}</td>
<td>{{ "in progress" if vote.in_progress else "success" if vote.success else "failure" }}</td>
<td>{{ vote.user or "" }}</td><td>{{ vote.notes or "" }}</td></tr>
{% endfor %}</tbody>
</table>{% endif %}
{% if m.labels %}<h2>Labels</h2>
<ul id="labels">{% for label in m.labels %}<li>{{ label.label }}:
{% if label.moved %}moved to {{ label.repo_hash }} (was {{ label.previous_hash or "unset" }})
{% else %}stays at {{ label.repo_hash or "unset" }}{% if label.reason %} ({{ label.reason }}){% endif %}
{% endif %}</li>{% endfor %}</ul>{% endif %}
</body>
</html>
"""


def _environment() -> "Environment":
    env = Environment(
        loader=DictLoader({"page": _PAGE}),
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    env.filters["duration"] = duration
    return env
