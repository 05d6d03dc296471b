"""One self-contained HTML page: phases, then failures first, sortable and searchable.

No external CSS, JS or fonts, so the page works from a log server, an
artifact store or a laptop without network.  The search box filters rows
by words (all must match) found in the test id (with its ``[id-...,smoke]``
attributes), the traceback, or ``is:<outcome>``; ``?q=...`` in the URL fills
it, so a search can be shared as a link.
"""

from __future__ import annotations

from .results import _FIXTURE_PREFIXES, OUTCOME_RANK, OUTCOMES, Report, TestResult, duration_texts, plain_text

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .5em}
.badges a{display:inline-block;margin:0 .4em .4em 0;padding:.2em .6em;border-radius:.3em;
 text-decoration:none;color:#fff;background:#666}
.badges .failed,.badges .uxsuccess,tr.failed td:first-child,tr.uxsuccess td:first-child{background:#c62828;color:#fff}
.badges .flaky,tr.flaky td:first-child{background:#ef6c00;color:#fff}
.badges .passed,tr.passed td:first-child,tr.xfail td:first-child{background:#2e7d32;color:#fff}
.badges .skipped,tr.skipped td:first-child{background:#757575;color:#fff}
.badges .xfail{background:#558b2f}
.verdict{font-weight:bold;margin:.3em 0 .8em}.verdict.bad{color:#c62828}.verdict.good{color:#2e7d32}
.corrupt{border:2px solid #c62828;padding:.5em;margin:.5em 0}
table{border-collapse:collapse;width:100%;margin-bottom:1em}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
#tests th{cursor:pointer;user-select:none}
td.num{text-align:right;white-space:nowrap}
.c{color:#666}.a{color:#888;font-size:.85em}
pre{white-space:pre-wrap;margin:.3em 0;font-size:12px;background:#fafafa;padding:.4em;max-height:40em;overflow:auto}
#q{width:30em;padding:.3em;font-size:1em}
"""

# Plain ES5 so old browsers on CI viewers run it too.
_JS = """
(function () {
  var body = document.getElementById('rows');
  var q = document.getElementById('q');
  var shown = document.getElementById('shown');
  var items = Array.prototype.map.call(body.rows, function (row) {
    return {row: row, text: (row.cells[1].textContent + ' is:' + row.className).toLowerCase()};
  });
  function filter() {
    var words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    items.forEach(function (item) {
      var ok = words.every(function (word) { return item.text.indexOf(word) >= 0; });
      item.row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = String(count);
  }
  var keys = {
    o: function (row) { return Number(row.getAttribute('data-o')); },
    n: function (row) { return row.cells[1].firstChild.textContent; },
    d: function (row) { return Number(row.getAttribute('data-d')); },
    a: function (row) { return Number(row.cells[3].textContent); }
  };
  var order = {};
  Array.prototype.forEach.call(document.querySelectorAll('#tests th[data-k]'), function (th) {
    th.addEventListener('click', function () {
      var k = th.getAttribute('data-k');
      var key = keys[k];
      var dir = order[k] = -(order[k] || (k === 'd' ? 1 : -1));
      items.sort(function (x, y) {
        var a = key(x.row), b = key(y.row);
        return a < b ? -dir : a > b ? dir : 0;
      });
      var frag = document.createDocumentFragment();
      items.forEach(function (item) { frag.appendChild(item.row); });
      body.appendChild(frag);
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('.badges a'), function (a) {
    a.addEventListener('click', function (event) {
      event.preventDefault();
      q.value = 'is:' + a.className;
      filter();
    });
  });
  q.addEventListener('input', filter);
  var wanted = new URLSearchParams(window.location.search).get('q');
  if (wanted) { q.value = wanted; }
  filter();
}());
"""


def escape(text: str) -> str:
    """What ``html.escape`` does (quotes included), without importing ``html`` and its entity tables."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _escaped(values: list[str]) -> list[str]:
    """HTML-escape many strings in one call (joined on NUL, which test ids never hold)."""
    return escape("\0".join(values)).split("\0") if values else []


def _rows(tests: list[TestResult], times: list[str] | None = None, plain: bool | None = None) -> list[str]:
    """One ``<tr>`` per test: tests that passed at the first attempt in bulk, the others by _row.

    ``times`` and ``plain`` are the report's shared columns (``Report.times``,
    ``Report.plain_ids``); computed here when not given.
    """
    if plain is None:
        plain = plain_text([test.test_id for test in tests])
    classnames = [test.classname for test in tests]
    names = [test.name for test in tests]
    attrs = [",".join(test.attrs) for test in tests] if any(test.attrs for test in tests) else [""] * len(tests)
    if not plain:
        classnames, names, attrs = _escaped(classnames), _escaped(names), _escaped(attrs)
    rows = [
        # What _row writes for a test that passed at the first attempt.
        f'<tr class="passed" data-o="5" data-d="{seconds}"><td>passed</td><td><span>'
        f'{f"""<span class="c">{classname}.</span>""" if classname else ""}<b>{name}</b>'
        f'{f"""<span class="a">[{attr}]</span>""" if attr else ""}</span></td>'
        f'<td class="num">{"" if test.duration is None else seconds}</td><td class="num">1</td></tr>\n'
        for test, classname, name, attr, seconds in zip(
            tests, classnames, names, attrs, duration_texts(tests) if times is None else times, strict=True
        )
    ]
    for index, test in enumerate(tests):
        # Fixture ids keep their own form (see _row): they and every other outcome go one by one.
        if (
            test.outcome != "passed"
            or test.attempts != 1
            or (test.attrs and test.test_id.startswith(_FIXTURE_PREFIXES))
        ):
            rows[index] = _row(test, *_escaped([test.classname, test.name]))
    return rows


def _row(test: TestResult, classname: str, name: str) -> str:
    if test.outcome == "passed" and not test.attrs:
        # The common row, kept short: 15,000 of them make the page.
        return (
            f'<tr class="passed" data-o="5" data-d="{test.duration or 0:.3f}"><td>passed</td>'
            f'<td><span><span class="c">{classname}.</span><b>{name}</b></span></td>'
            f'<td class="num">{_seconds(test.duration)}</td><td class="num">1</td></tr>\n'
            if classname
            else f'<tr class="passed" data-o="5" data-d="{test.duration or 0:.3f}"><td>passed</td>'
            f'<td><span><b>{name}</b></span></td><td class="num">{_seconds(test.duration)}</td>'
            '<td class="num">1</td></tr>\n'
        )
    prefix = f'<span class="c">{classname}.</span>' if classname else ""
    if not test.classname or test.test_id.startswith(test.classname + "." + test.name):
        attrs = f'<span class="a">[{escape(",".join(test.attrs))}]</span>' if test.attrs else ""
        shown = f"{prefix}<b>{name}</b>{attrs}"
    else:
        # Fixture failures: keep the id as unittest wrote it.
        shown = f"<b>{escape(test.test_id)}</b>"
    extra = ""
    if test.details:
        extra = f"<details><summary>{escape(test.message)}</summary><pre>{escape(test.details)}</pre></details>"
    elif test.message:
        extra = f'<div class="a">{escape(test.message)}</div>'
    return (
        f'<tr class="{test.outcome}" data-o="{OUTCOME_RANK[test.outcome]}" data-d="{test.duration or 0:.3f}">'
        f"<td>{test.outcome}</td><td><span>{shown}</span>{extra}</td>"
        f'<td class="num">{_seconds(test.duration)}</td><td class="num">{test.attempts}</td></tr>\n'
    )


def render(report: Report, title: str = "Tempest results") -> str:
    """The whole page."""
    return "".join(page_parts(report, title))


def page_parts(report: Report, title: str = "Tempest results") -> list[str]:
    """The page as pieces to join (or write one after another)."""
    summary = report.summary()
    counts = report.counts()
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n<h1>{escape(title)}</h1>\n",
        f'<p class="verdict {"good" if summary["success"] else "bad"}">'
        f"{'PASSED' if summary['success'] else 'FAILED'}: {summary['total']} tests in "
        f"{summary['duration']:.1f} s{escape(' - ' + '; '.join(summary['reasons'])) if summary['reasons'] else ''}"
        '</p>\n<p class="badges">',
    ]
    for outcome in OUTCOMES:
        parts.append(f'<a href="#" class="{outcome}">{outcome} {counts[outcome]}</a>')
    parts.append("</p>\n")
    corruption = report.corruption()
    if corruption:
        parts.append('<div class="corrupt"><b>Damaged subunit stream: results may be incomplete.</b><ul>')
        for bad in corruption:
            where = f"{escape(bad['file'])}: offset {bad['offset']}, {bad['length']} bytes"
            parts.append(f"<li>{where}: {escape(bad['reason'])}</li>")
        parts.append("</ul></div>\n")
    if report.phases:
        parts.append(
            '<h2>Phases</h2><table id="phases"><thead><tr><th>status</th><th>phase</th>'
            "<th>seconds</th></tr></thead><tbody>\n"
        )
        for phase in report.phases:
            outcome = phase.status
            more = f'<div class="a">{escape(phase.message)}</div>' if phase.message else ""
            if phase.details:
                more += f"<details><summary>details</summary><pre>{escape(phase.details)}</pre></details>"
            parts.append(
                f'<tr class="{outcome}"><td>{outcome}</td><td><b>{escape(phase.name)}</b>{more}</td>'
                f'<td class="num">{_seconds(phase.duration)}</td></tr>\n'
            )
        parts.append("</tbody></table>\n")
    parts.append(
        '<h2>Tests</h2><p><input id="q" type="search" placeholder="search ids, tracebacks, is:failed" '
        f'aria-label="search"> <span id="shown">{len(report.tests)}</span> of {len(report.tests)} shown</p>\n'
        '<table id="tests"><thead><tr><th data-k="o">status</th><th data-k="n">test</th>'
        '<th data-k="d">seconds</th><th data-k="a">attempts</th></tr></thead><tbody id="rows">\n'
    )
    parts.extend(_rows(report.tests, report.times(), report.plain_ids()))
    parts.append(f"</tbody></table>\n<script>{_JS}</script>\n</body></html>\n")
    return parts
