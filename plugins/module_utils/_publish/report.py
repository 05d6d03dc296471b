"""The status report: per package its newest build, as JSON, a static HTML page and DLRN's CSV.

Both files live in ``repos/`` (DLRN keeps its report there too) and link
to build logs and repositories by relative path, so the report works from
any web server or from disk.  The page carries its data as embedded JSON
and renders, orders (failures first) and filters (the box, or
``?filter=`` in the URL) in the browser; without JavaScript it points to
the JSON.  Content depends only on the state DB, so regenerating an
unchanged report writes nothing.  ``status_report.csv`` is DLRN's, column
for column, for the tools that read it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .._common.files import write_atomic_if_changed
from .._statedb.db import StateDB, summarize
from .layout import (
    BUILD_LOG,
    FLAG_PUBLISHED,
    REPORT_CSV,
    REPORT_CSV_HEADER,
    REPORT_HTML,
    REPORT_JSON,
    Layout,
)

_PACKAGE_SUFFIXES = (".rpm", ".deb", ".udeb", ".ddeb")

# Failures first, then builds still in flight, then successes.
STATUS_ORDER = {"FAILED": 0, "RETRY": 1, "BUILDING": 2, "QUEUED": 3, "SUCCESS": 4}


def report_data(db: StateDB, layout: Layout, release: str) -> Dict[str, Any]:
    """The report as plain data: one entry per package, failures first."""
    packages: List[Dict[str, Any]] = []
    records = db.last_builds(release=release)
    latest = {record.project: record.id for record in records}
    for record in records:
        rel = layout.commit_rel(record.commit_hash, record.distro_hash, record.component)
        published = bool(record.flags & FLAG_PUBLISHED) and (layout.repos_dir / rel).is_dir()
        packages.append(
            {
                "project": record.project,
                "component": record.component,
                "status": record.status,
                "commit_hash": record.commit_hash,
                "distro_hash": record.distro_hash,
                "repo_hash": record.repo_hash,
                "nvr": record.nvr,
                "dt_commit": record.dt_commit,
                "dt_build": record.dt_build,
                "subject": record.subject,
                "build_log": f"{rel}/{BUILD_LOG}"
                if published and (layout.repos_dir / rel / BUILD_LOG).is_file()
                else None,
                "repo": f"{rel}/" if published and record.status == "SUCCESS" else None,
                "notes": record.notes,
            }
        )
    packages.sort(key=lambda item: (STATUS_ORDER.get(item["status"], 9), item["project"]))
    logs = {item["project"]: item["build_log"] for item in packages}
    stamps = [record.dt_build or record.dt_queued for record in records]
    return {
        "release": release,
        "reponame": layout.reponame,
        "generated": max(stamps) if stamps else 0,
        "summary": summarize(records),
        "packages": packages,
        # Failing to build, longest first: since when (the page says for how long), how often, why, whose.
        "ftbfs": [
            {
                "project": item.project,
                "since": item.since,
                "failures": item.failures,
                "error": item.last_failed.notes,
                "maintainers": item.maintainers,
                "first_failed": item.first_failed.repo_hash,
                "last_success": item.last_success.repo_hash if item.last_success else None,
                "build_log": logs.get(item.project) if item.last_failed.id == latest.get(item.project) else None,
            }
            for item in db.ftbfs(release=release)
        ],
    }


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .3em .5em; text-align: left; font-size: 90%; }}
tr.FAILED td, tr.RETRY td {{ background: #fdd; }}
tr.SUCCESS td {{ background: #efe; }}
tr.QUEUED td, tr.BUILDING td {{ background: #ffd; }}
code {{ font-size: 95%; }}
#filter {{ width: 20em; margin-bottom: 1em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p id="summary"></p>
<section id="ftbfs" hidden>
<h2>Failing to build</h2>
<table>
<thead><tr><th>Package</th><th>Failing since (UTC)</th><th>For</th><th>Failed builds</th><th>Why</th>
<th>Maintainers</th><th>Log</th></tr></thead>
<tbody id="ftbfs-rows"></tbody>
</table>
</section>
<h2>Newest build of each package</h2>
<label for="filter">Filter</label> <input id="filter" type="search" placeholder="package, status, NVR or hash">
<noscript><p>This page needs JavaScript; the same data is in <a href="{json_name}">{json_name}</a>.</p></noscript>
<table>
<thead><tr><th>Package</th><th>Status</th><th>Commit</th><th>NVR</th><th>Built (UTC)</th><th>Log</th>
<th>Repository</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p>Data: <a href="{json_name}">{json_name}</a></p>
<script type="application/json" id="report-data">{data}</script>
<script>
"use strict";
const ORDER = {order};
const report = JSON.parse(document.getElementById("report-data").textContent);
function cell(row, content, href) {{
  const td = document.createElement("td");
  if (href) {{ const a = document.createElement("a"); a.href = href; a.textContent = content; td.appendChild(a); }}
  else {{ td.textContent = content === null || content === undefined ? "" : content; }}
  row.appendChild(td);
}}
function when(stamp) {{ return stamp ? new Date(stamp * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }}
function render() {{
  const words = document.getElementById("filter").value.toLowerCase().split(/\\s+/).filter(Boolean);
  const tbody = document.getElementById("rows");
  tbody.textContent = "";
  const packages = report.packages.slice().sort((a, b) =>
    ((ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9)) || a.project.localeCompare(b.project));
  let shown = 0;
  for (const pkg of packages) {{
    const text = [pkg.project, pkg.status, pkg.nvr, pkg.commit_hash, pkg.component].join(" ").toLowerCase();
    if (!words.every(word => text.includes(word))) continue;
    const tr = document.createElement("tr");
    tr.className = pkg.status;
    tr.dataset.project = pkg.project;
    tr.dataset.status = pkg.status;
    cell(tr, pkg.project);
    cell(tr, pkg.status);
    cell(tr, pkg.commit_hash.slice(0, 12));
    cell(tr, pkg.nvr);
    cell(tr, when(pkg.dt_build));
    cell(tr, pkg.build_log ? "build.log" : "", pkg.build_log);
    cell(tr, pkg.repo ? pkg.repo_hash : "", pkg.repo);
    tbody.appendChild(tr);
    shown += 1;
  }}
  const s = report.summary;
  document.getElementById("summary").textContent =
    `${{shown}} of ${{report.packages.length}} packages shown; ` +
    Object.keys(s).map(k => `${{k}}: ${{s[k]}}`).join(", ");
}}
function age(stamp) {{
  const days = Math.floor((Date.now() / 1000 - stamp) / 86400);
  return days >= 1 ? `${{days}} day${{days === 1 ? "" : "s"}}` : "less than a day";
}}
function renderFtbfs() {{
  const failing = report.ftbfs || [];
  document.getElementById("ftbfs").hidden = failing.length === 0;
  const tbody = document.getElementById("ftbfs-rows");
  for (const item of failing) {{
    const tr = document.createElement("tr");
    tr.className = "FAILED";
    tr.dataset.project = item.project;
    cell(tr, item.project);
    cell(tr, when(item.since));
    cell(tr, age(item.since));
    cell(tr, item.failures);
    cell(tr, item.error);
    cell(tr, item.maintainers.join(", "));
    cell(tr, item.build_log ? "build.log" : "", item.build_log);
    tbody.appendChild(tr);
  }}
}}
renderFtbfs();
const box = document.getElementById("filter");
box.value = new URLSearchParams(window.location.search).get("filter") || "";
box.addEventListener("input", render);
render();
</script>
</body>
</html>
"""


def render_html(data: Dict[str, Any]) -> str:
    """The static page for ``report_data``'s result."""
    # "<" escaped so no value can close the <script> element.
    embedded = json.dumps(data, sort_keys=True).replace("<", "\\u003c")
    return _PAGE.format(
        title=html.escape(f"{data['reponame']} {data['release']}: build status"),
        json_name=REPORT_JSON,
        data=embedded,
        order=json.dumps(STATUS_ORDER, sort_keys=True),
    )


def render_csv(db: StateDB, layout: Layout, release: str, names: Optional[Mapping[str, str]] = None) -> str:
    """DLRN's ``status_report.csv``: per package (by name) its newest build, packages as ``repos/…`` paths."""
    names = names or {}
    lines = [REPORT_CSV_HEADER]
    records = db.last_builds(release=release)
    for record in sorted(records, key=lambda r: names.get(r.project, r.project)):
        rel = layout.commit_rel(record.commit_hash, record.distro_hash, record.component)
        packages = sorted(
            f"repos/{rel}/{Path(path).name}" for path in record.artifacts if path.endswith(_PACKAGE_SUFFIXES)
        )
        fields = [
            names.get(record.project, record.project),
            record.commit_hash,
            record.distro_hash,
            "None",
            record.component or "None",
            record.status,
            str(record.dt_build) if record.dt_build is not None else "None",
            "|".join(packages) if packages and record.status == "SUCCESS" else "None",
        ]
        lines.append(",".join(field.replace(",", " ") for field in fields))
    return "\n".join(lines) + "\n"


def write_report(db: StateDB, layout: Layout, release: str, names: Optional[Mapping[str, str]] = None) -> Path:
    """Regenerate ``status_report.json``, ``.html`` and ``.csv`` (only what changed is written).

    ``names`` maps projects to DLRN's package names for the CSV.
    """
    data = report_data(db, layout, release)
    write_atomic_if_changed(layout.repos_dir / REPORT_JSON, json.dumps(data, indent=1, sort_keys=True) + "\n")
    write_atomic_if_changed(layout.repos_dir / REPORT_CSV, render_csv(db, layout, release, names))
    target = layout.repos_dir / REPORT_HTML
    write_atomic_if_changed(target, render_html(data))
    return target
