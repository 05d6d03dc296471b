"""DLRN's CI votes pages (``civotes*.html``), rendered on the server.

DLRN's detail pages are empty tables its JavaScript fills through GraphQL
from a CDN-loaded jQuery; here every page is complete HTML (Jinja2,
autoescaped), with no script and nothing loaded from elsewhere.  A vote's
URL is a link only when it is http(s), so a CI cannot plant a
``javascript:`` link.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from .._statedb.db import StateDB
from . import params as p
from . import queries
from .config import ApiConfig

try:
    from jinja2 import DictLoader, Environment, select_autoescape
except ImportError as exc:  # reported by the first page asked for, on a host without the API's requirements
    _IMPORT_ERROR: Optional[ImportError] = exc
else:
    _IMPORT_ERROR = None

PAGE_SIZE = 100

_BASE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{% block title %}CI Votes{% endblock %}</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
th { background: #004153; color: #fff; }
tr.failure td { background: #fbe3e4; }
.ok { color: #004153; } .ko { color: #c00; }
nav a { margin-right: 1em; }
</style>
</head>
<body>
<h1>{{ target | capitalize }}</h1>
<nav><a href="civotes.html">CI votes by build</a><a href="civotes_agg.html">CI votes by aggregate</a></nav>
{% block body %}{% endblock %}
</body>
</html>
"""

_GENERAL = """{% extends "base" %}
{% block body %}
<table>
<thead><tr><th>Repo hash (commit_distro)</th><th>Component</th><th>Last timestamp</th>
<th>Successful jobs</th><th>Failed jobs</th></tr></thead>
<tbody>
{% for repo in repos %}
<tr{% if repo.failure %} class="failure"{% endif %}>
{% set detail = "civotes_detail.html?commit_hash=" ~ (repo.commit_hash | urlencode)
   ~ "&distro_hash=" ~ (repo.distro_hash | urlencode) %}
<td><a href="{{ detail }}">{{ repo.commit_hash }}_{{ repo.distro_hash[:8] }}</a></td>
<td>{% if repo.component %}
<a href="civotes_detail.html?component={{ repo.component | urlencode }}">{{ repo.component }}</a>
{% endif %}</td>
<td>{{ repo.timestamp | strftime }}</td>
<td><a class="ok" href="{{ detail }}&amp;success=true">{{ repo.success }}</a></td>
<td><a class="ko" href="{{ detail }}&amp;success=false">{{ repo.failure }}</a></td>
</tr>
{% endfor %}
</tbody>
</table>
{% include "pager" %}
{% endblock %}
"""

_GENERAL_AGG = """{% extends "base" %}
{% block body %}
<table>
<thead><tr><th>Aggregate hash</th><th>Last timestamp</th><th>Successful jobs</th><th>Failed jobs</th></tr></thead>
<tbody>
{% for agg in repos %}
<tr{% if agg.failure %} class="failure"{% endif %}>
<td><a href="civotes_agg_detail.html?ref_hash={{ agg.ref_hash | urlencode }}">{{ agg.ref_hash }}</a></td>
<td>{{ agg.timestamp | strftime }}</td>
<td class="ok">{{ agg.success }}</td>
<td class="ko">{{ agg.failure }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% include "pager" %}
{% endblock %}
"""

_PAGER = """<p>{{ count }} vote(s) on this page.
{% if offset > 0 %}<a href="?offset={{ [offset - limit, 0] | max }}">newer</a>{% endif %}
{% if count == limit %}<a href="?offset={{ offset + limit }}">older</a>{% endif %}</p>
"""

_DETAIL = """{% extends "base" %}
{% block body %}
<p>{{ what }}</p>
<table>
<thead><tr><th>CI Name</th><th>{% if aggregate %}Aggregate hash{% else %}Repo hash (commit_distro){% endif %}</th>
{% if not aggregate %}<th>Component</th>{% endif %}<th>Results URL</th><th>Vote</th><th>In Progress?</th>
<th>Timestamp</th><th>notes</th></tr></thead>
<tbody>
{% for vote in votes %}
<tr{% if not vote.success and not vote.in_progress %} class="failure"{% endif %}>
<td>{{ vote.job_id }}</td>
<td>{{ vote.ref_hash }}</td>
{% if not aggregate %}<td>{{ vote.component or "" }}</td>{% endif %}
<td>{% if vote.url and (vote.url.startswith("http://") or vote.url.startswith("https://")) %}
<a href="{{ vote.url }}">{{ vote.url }}</a>{% else %}{{ vote.url or "" }}{% endif %}</td>
<td class="{{ 'ok' if vote.success else 'ko' }}">{{ "success" if vote.success else "failure" }}</td>
<td>{{ "yes" if vote.in_progress else "no" }}</td>
<td>{{ vote.timestamp | strftime }}</td>
<td>{{ vote.notes or "" }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endblock %}
"""


def _strftime(stamp: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(int(stamp or 0)))


def _environment() -> "Environment":
    env = Environment(
        loader=DictLoader(
            {
                "base": _BASE,
                "general": _GENERAL,
                "general_agg": _GENERAL_AGG,
                "pager": _PAGER,
                "detail": _DETAIL,
            }
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["strftime"] = _strftime
    return env


_ENV: List[Any] = []


def _page(name: str, **values: Any) -> str:
    if _IMPORT_ERROR is not None:
        raise RuntimeError(f"the REST API's pages need Jinja2: {_IMPORT_ERROR}")
    if not _ENV:
        _ENV.append(_environment())
    return _ENV[0].get_template(name).render(**values)


def civotes(db: StateDB, config: ApiConfig, params: Dict[str, Any], *, aggregate: bool) -> str:
    """``civotes.html`` / ``civotes_agg.html``: the newest votes grouped per build or aggregate."""
    p.only(params, ("offset",), "civotes")
    offset = p.integer(params.get("offset", 0), "offset", minimum=0)
    repos, count = queries.vote_page(db, offset, PAGE_SIZE, aggregate=aggregate)
    return _page(
        "general_agg" if aggregate else "general",
        target=config.target,
        repos=repos,
        count=count,
        offset=offset,
        limit=PAGE_SIZE,
    )


def civotes_detail(db: StateDB, config: ApiConfig, params: Dict[str, Any]) -> str:
    """``civotes_detail.html``: votes on one build, one component or of one CI job."""
    p.only(params, ("commit_hash", "distro_hash", "component", "ci_name", "success"), "civotes_detail")
    commit_hash = p.text(params.get("commit_hash"), "commit_hash")
    distro_hash = p.text(params.get("distro_hash"), "distro_hash")
    component = p.text(params.get("component"), "component")
    ci_name = p.text(params.get("ci_name"), "ci_name")
    success = p.boolean(params.get("success"), "success")
    votes: List[Dict[str, Any]] = []
    what = []
    if commit_hash and distro_hash:
        commit = queries.find_commit(db, commit_hash, distro_hash)
        what.append(f"build {commit_hash}_{distro_hash[:8]}")
        if commit is not None:
            votes = queries.vote_details(
                db, aggregate=False, commit=commit, component=component, job_id=ci_name, success=success
            )
    elif ci_name or component:
        votes = queries.vote_details(db, aggregate=False, component=component, job_id=ci_name, success=success)
    else:
        raise p.bad("Please specify either commit_hash+distro_hash, component or ci_name as parameters.")
    what.extend(f"{name} {value}" for name, value in (("component", component), ("CI", ci_name)) if value)
    return _page("detail", target=config.target, votes=votes, aggregate=False, what="Votes on " + ", ".join(what))


def civotes_agg_detail(db: StateDB, config: ApiConfig, params: Dict[str, Any]) -> str:
    """``civotes_agg_detail.html``: votes on one aggregate or of one CI job on aggregates."""
    p.only(params, ("ref_hash", "ci_name", "success"), "civotes_agg_detail")
    ref_hash: Optional[str] = p.text(params.get("ref_hash"), "ref_hash")
    ci_name = p.text(params.get("ci_name"), "ci_name")
    if not ref_hash and not ci_name:
        raise p.bad("Please specify either ref_hash or ci_name as parameters.")
    votes = queries.vote_details(
        db, aggregate=True, ref_hash=ref_hash, job_id=ci_name, success=p.boolean(params.get("success"), "success")
    )
    what = ", ".join(f"{name} {value}" for name, value in (("aggregate", ref_hash), ("CI", ci_name)) if value)
    return _page("detail", target=config.target, votes=votes, aggregate=True, what=f"Votes on {what}")
