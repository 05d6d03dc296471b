"""One function per DLRN endpoint: parameters in, ``(status, document)`` out, one transaction each.

Handlers do not see HTTP: :mod:`.wsgi` parses the request (query string,
JSON body, credentials) into a :class:`Call` and turns the :class:`Reply`
or :class:`.errors.ApiError` into a response.  Reads run in one
``db.reader()`` snapshot; writes run in one ``db.writer()`` transaction or,
for promotions, in the promotion engine's own unit (publish lock, rows and
links together).
"""

from __future__ import annotations

import calendar
import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .._common.errors import DistroforgeError, InputError
from .._promote import votes as vote_engine
from .._promote.promote import PromoteItem, promote_batch
from .._publish.atomic import PublishBusy
from .._statedb.db import RecheckRefused, StateDB, StateDBBusy
from . import params as p
from . import queries
from .config import ApiConfig
from .errors import ApiError, from_engine
from .remote import import_commit

# DLRN's page size for promotions and the civotes pages.
MAX_LIMIT = 100
NOT_FOUND = "commit_hash+distro_hash+extended_hash combination not found"


@dataclasses.dataclass
class Call:
    """One request as a handler sees it."""

    db: StateDB
    config: ApiConfig
    # GET: the query string merged with the deprecated JSON body; POST: the JSON body's object.
    params: Dict[str, Any]
    # The POST body as sent (promote-batch takes a list).
    body: Any = None
    user: Optional[str] = None
    now: Optional[float] = None

    def clock(self) -> float:
        """The request's time (epoch seconds)."""
        return self.now if self.now is not None else time.time()


@dataclasses.dataclass
class Reply:
    """A handler's answer: JSON by default, else ``text`` with ``content_type``."""

    status: int
    document: Any = None
    text: Optional[str] = None
    content_type: str = "application/json"


Handler = Callable[[Call], Reply]


@dataclasses.dataclass(frozen=True)
class Route:
    """Where a handler answers and what it needs before it runs."""

    path: str
    method: str
    handler: Handler
    # HTTP basic credentials of an API user.
    auth: bool = False
    # A JSON body (else 415, as DLRN).
    json_body: bool = False
    # Writes: the handler's work is one writer transaction.
    writes: bool = False


def _engine(work: Callable[[], Any]) -> Any:
    """Run engine code, turning its refusals into ApiErrors (busy locks are a 503: try again)."""
    try:
        return work()
    except (StateDBBusy, PublishBusy) as exc:
        raise ApiError(503, f"busy: {exc}; try again in a moment", {"Retry-After": "5"}) from exc
    except ApiError:
        raise
    except DistroforgeError as exc:
        raise from_engine(exc) from exc


# -- health -------------------------------------------------------------------------------------


def health(call: Call) -> Reply:
    """``GET``/``POST /api/health``: the DB answers (POST also proves the credentials)."""
    result = "ok" if queries.has_commits(call.db) else "ok, no commits in DB"
    return Reply(200, {"result": result})


# -- votes -------------------------------------------------------------------------------------


def _vote_document(row: Any, commit_hash: str, distro_hash: str, component: Optional[str]) -> Dict[str, Any]:
    return {
        "timestamp": row["timestamp"],
        "commit_hash": commit_hash,
        "distro_hash": distro_hash,
        "extended_hash": None,
        "job_id": row["job_id"],
        "success": bool(row["success"]),
        "in_progress": bool(row["in_progress"]),
        "url": row["url"],
        "notes": row["notes"],
        "user": row["user"],
        "component": component,
    }


def repo_status(call: Call) -> Reply:
    """``GET /api/repo_status``: every vote on one build."""
    params = call.params
    p.only(params, ("commit_hash", "distro_hash", "extended_hash", "success"), "repo_status")
    commit_hash = p.text(params.get("commit_hash"), "commit_hash")
    distro_hash = p.text(params.get("distro_hash"), "distro_hash")
    extended_hash = p.text(params.get("extended_hash"), "extended_hash")
    if commit_hash is None or distro_hash is None:
        raise p.bad("Missing parameters")
    success = p.boolean(params.get("success"), "success")
    commit = queries.find_commit(call.db, commit_hash, distro_hash, extended_hash)
    if commit is None:
        raise p.bad(NOT_FOUND)
    rows = queries.commit_votes(call.db, commit, success)
    return Reply(200, [_vote_document(row, commit_hash, distro_hash, commit.component) for row in rows])


def agg_status(call: Call) -> Reply:
    """``GET /api/agg_status``: every vote on one aggregate hash."""
    params = call.params
    p.only(params, ("aggregate_hash", "success"), "agg_status")
    aggregate_hash = p.text(params.get("aggregate_hash"), "aggregate_hash")
    if aggregate_hash is None:
        raise p.bad("Missing parameters")
    success = p.boolean(params.get("success"), "success")
    return Reply(
        200,
        [
            {
                "timestamp": row["timestamp"],
                "aggregate_hash": aggregate_hash,
                "job_id": row["job_id"],
                "success": bool(row["success"]),
                "in_progress": bool(row["in_progress"]),
                "url": row["url"],
                "notes": row["notes"],
                "user": row["user"],
            }
            for row in queries.aggregate_votes(call.db, aggregate_hash, success)
        ],
    )


_LAST_TESTED = ("max_age", "success", "job_id", "sequential_mode", "previous_job_id", "component")


def _find_last_tested(call: Call) -> queries.LastVote:
    params = call.params
    success = p.boolean(params.get("success"), "success")
    sequential = p.boolean(params.get("sequential_mode"), "sequential_mode")
    previous_job_id = p.text(params.get("previous_job_id"), "previous_job_id")
    job_id = p.text(params.get("job_id"), "job_id")
    component = p.text(params.get("component"), "component")
    if sequential and previous_job_id is None:
        raise p.bad("Missing parameter previous_job_id")
    if params.get("max_age") is None:
        raise p.bad("Missing parameters")
    max_age = p.integer(params["max_age"], "max_age")
    since = 0.0 if max_age == 0 else call.clock() - max_age * 3600
    if sequential:
        vote = queries.last_vote(
            call.db, since, success=success, job_id=previous_job_id, component=component, fallback=False
        )
    else:
        vote = queries.last_vote(call.db, since, success=success, job_id=job_id, component=component, fallback=True)
    if vote is None:
        raise p.bad("No vote found")
    return vote


def _last_tested_document(vote: queries.LastVote) -> Dict[str, Any]:
    return {
        "commit_hash": vote.commit_hash,
        "distro_hash": vote.distro_hash,
        "extended_hash": None,
        "timestamp": vote.timestamp,
        "job_id": vote.job_id,
        "success": vote.success,
        "in_progress": vote.in_progress,
        "user": vote.user,
        "component": vote.component,
    }


def last_tested_repo_get(call: Call) -> Reply:
    """``GET /api/last_tested_repo``: the newest tested build by DLRN's rules."""
    p.only(call.params, _LAST_TESTED, "last_tested_repo")
    return Reply(200, _last_tested_document(_find_last_tested(call)))


def last_tested_repo_post(call: Call) -> Reply:
    """``POST /api/last_tested_repo``: the same search, then an in-progress vote of ``reporting_job_id`` on it."""
    params = call.params
    p.only(params, (*_LAST_TESTED, "reporting_job_id"), "last_tested_repo")
    reporting_job_id = p.text(params.get("reporting_job_id"), "reporting_job_id", max_length=255)
    vote = _find_last_tested(call)
    if reporting_job_id is None:
        raise p.bad("Missing parameters")
    recorded = _engine(
        lambda: vote_engine.record_vote(
            call.db,
            vote_engine.Vote(
                job_id=reporting_job_id,
                success=False,
                in_progress=True,
                url="",
                notes="",
                user=call.user,
                commit_hash=vote.commit_hash,
                distro_hash=vote.distro_hash,
                timestamp=int(call.clock()),
            ),
            dedupe=False,
        )
    )
    document = recorded.vote
    return Reply(
        201,
        {
            "commit_hash": vote.commit_hash,
            "distro_hash": vote.distro_hash,
            "extended_hash": None,
            "timestamp": document["timestamp"],
            "job_id": reporting_job_id,
            "success": False,
            "in_progress": True,
            "user": document["user"],
            "component": document["component"],
        },
    )


_REPORT_FIELDS = (
    "job_id",
    "commit_hash",
    "distro_hash",
    "extended_hash",
    "aggregate_hash",
    "url",
    "timestamp",
    "success",
    "notes",
)


def report_result(call: Call) -> Reply:
    """``POST /api/report_result``: a CI job's vote on a build or an aggregate."""
    body = call.params
    p.only(body, _REPORT_FIELDS, "report_result")
    for name in ("timestamp", "job_id", "success", "url"):
        if name not in body:
            raise p.bad(f"Missing parameters: {name} is required")
    commit_hash = p.text(body.get("commit_hash"), "commit_hash")
    distro_hash = p.text(body.get("distro_hash"), "distro_hash")
    aggregate_hash = p.text(body.get("aggregate_hash"), "aggregate_hash")
    if not commit_hash and not distro_hash and not aggregate_hash:
        raise p.bad("Missing parameters: give commit_hash and distro_hash, or aggregate_hash")
    if commit_hash and not distro_hash:
        raise p.bad("If commit_hash is provided, distro_hash must be provided too")
    if distro_hash and not commit_hash:
        raise p.bad("If distro_hash is provided, commit_hash must be provided too")
    if aggregate_hash and (commit_hash or distro_hash):
        raise p.bad("aggregate_hash and commit/distro_hash cannot be combined")
    success = p.boolean(body["success"], "success")
    if success is None:
        raise p.bad("success must be true or false, got None")
    vote = vote_engine.Vote(
        job_id=p.text(body["job_id"], "job_id", required=True, max_length=255) or "",
        success=success,
        url=p.text(body["url"], "url", max_length=1024),
        timestamp=p.integer(body["timestamp"], "timestamp", minimum=0),
        notes=p.text(body.get("notes", ""), "notes", max_length=65536),
        user=call.user,
        commit_hash=commit_hash or None,
        distro_hash=distro_hash or None,
        extended_hash=p.text(body.get("extended_hash"), "extended_hash"),
        aggregate_hash=aggregate_hash or None,
    )
    # Every report is a row, as in DLRN: a second report of one run (new notes, say) is not swallowed.
    recorded = _engine(lambda: vote_engine.record_vote(call.db, vote, dedupe=False))
    document = dict(recorded.vote)
    document["extended_hash"] = None
    return Reply(201, document)


# -- promotions ----------------------------------------------------------------------------------


def _promote_items(entries: Sequence[Any], where: str) -> List[PromoteItem]:
    items = []
    for index, entry in enumerate(entries):
        at = where if len(entries) == 1 and where == "promote" else f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise p.bad(f"{at}: each item must be an object with commit_hash, distro_hash and promote_name")
        p.only(entry, ("commit_hash", "distro_hash", "extended_hash", "promote_name"), at)
        missing = [name for name in ("commit_hash", "distro_hash", "promote_name") if name not in entry]
        if missing:
            raise p.bad(f"Missing parameters: {at} lacks {', '.join(missing)}")
        items.append(
            PromoteItem(
                label=entry["promote_name"],
                commit_hash=entry["commit_hash"],
                distro_hash=entry["distro_hash"],
                extended_hash=p.text(entry.get("extended_hash"), f"{at}.extended_hash"),
            )
        )
    return items


def _promote(call: Call, items: List[PromoteItem]) -> Reply:
    # DLRN's API records a promotion for every request and leaves
    # previous-<label> to its clients (RDO's promoter promotes it itself).
    result = _engine(
        lambda: promote_batch(
            call.db,
            call.config.layout(),
            items,
            user=call.user,
            keep_previous=False,
            record_unchanged=True,
            lock_timeout=call.config.lock_timeout,
        )
    )
    return Reply(201, result.dlrn())


def promote(call: Call) -> Reply:
    """``POST /api/promote``: move a label to a build."""
    return _promote(call, _promote_items([call.params], "promote"))


def promote_batch_post(call: Call) -> Reply:
    """``POST /api/promote-batch``: move several labels, all or none."""
    if not isinstance(call.body, list) or not call.body:
        raise p.bad("promote-batch: the body must be a non-empty JSON list of {commit_hash, distro_hash, promote_name}")
    return _promote(call, _promote_items(call.body, "promote-batch"))


def promotions(call: Call) -> Reply:
    """``GET /api/promotions``: promotions newest first, filtered, paged by ``offset`` and ``limit`` (<= 100)."""
    params = call.params
    p.only(
        params,
        (
            "commit_hash",
            "distro_hash",
            "extended_hash",
            "aggregate_hash",
            "promote_name",
            "offset",
            "limit",
            "component",
        ),
        "promotions",
    )
    commit_hash = p.text(params.get("commit_hash"), "commit_hash")
    distro_hash = p.text(params.get("distro_hash"), "distro_hash")
    offset = p.integer(params.get("offset", 0), "offset", minimum=0)
    limit = min(p.integer(params.get("limit", MAX_LIMIT), "limit", minimum=0), MAX_LIMIT)
    if bool(commit_hash) != bool(distro_hash):
        raise p.bad("Both commit_hash and distro_hash must be specified if any of them is.")
    commit_id = None
    if commit_hash and distro_hash:
        extended_hash = p.text(params.get("extended_hash"), "extended_hash")
        commit = queries.find_commit(call.db, commit_hash, distro_hash, extended_hash)
        if commit is None:
            raise p.bad(NOT_FOUND)
        commit_id = commit.id
    layout = call.config.layout()
    rows = queries.promotions(
        call.db,
        commit_id=commit_id,
        label=p.text(params.get("promote_name"), "promote_name"),
        aggregate_hash=p.text(params.get("aggregate_hash"), "aggregate_hash"),
        component=p.text(params.get("component"), "component"),
        offset=offset,
        limit=limit,
    )
    documents = []
    for row in rows:
        try:
            rel = layout.commit_rel(row.commit_hash, row.distro_hash, row.commit_component)
        except InputError:  # a build without component in a component layout: where DLRN would look
            rel = layout.commit_rel(row.commit_hash, row.distro_hash, None) if not layout.use_components else ""
        documents.append(
            {
                "timestamp": row.timestamp,
                "commit_hash": row.commit_hash,
                "distro_hash": row.distro_hash,
                "extended_hash": None,
                "aggregate_hash": row.aggregate_hash,
                "repo_hash": f"{row.commit_hash}_{row.distro_hash[:8]}",
                "repo_url": layout.url(rel),
                "promote_name": row.label,
                "component": row.component,
                "user": row.user,
            }
        )
    return Reply(200, documents)


# -- builds ------------------------------------------------------------------------------------


def _date(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise p.bad("Invalid date format, it must be YYYY-mm-dd")
    try:
        return int(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError:
        raise p.bad(f"Invalid date format, it must be YYYY-mm-dd ({name}: {value!r})") from None


def metrics_builds(call: Call) -> Reply:
    """``GET /api/metrics/builds``: builds that succeeded and failed between two dates (UTC)."""
    params = call.params
    p.only(params, ("start_date", "end_date", "package_name"), "metrics/builds")
    if params.get("start_date") is None or params.get("end_date") is None:
        raise p.bad("Missing parameters")
    start = _date(params["start_date"], "start_date")
    end = _date(params["end_date"], "end_date")
    succeeded, failed = queries.build_counts(call.db, start, end, p.text(params.get("package_name"), "package_name"))
    return Reply(200, {"succeeded": succeeded, "failed": failed, "total": succeeded + failed})


def recheck_package(call: Call) -> Reply:
    """``POST /api/recheck_package`` (newer DLRN): rebuild a package's last FAILED build (it becomes RETRY)."""
    params = call.params
    p.only(params, ("package_name",), "recheck_package")
    package = p.text(params.get("package_name"), "package_name", required=True) or ""
    try:
        call.db.recheck(package)
    except RecheckRefused as refused:
        if refused.reason == "none":
            raise p.bad(
                f"Error while rechecking {package}. There are no existing commits or the commit to be rechecked is"
                " already marked as RETRY."
            ) from None
        if refused.reason == "succeeded":
            raise ApiError(
                409, f"Error while rechecking {package}. It's not possible to recheck a successful commit"
            ) from None
        what = f"its commit {refused.record.repo_hash} is {refused.record.status}" if refused.record else str(refused)
        raise ApiError(409, f"Error while rechecking {package}: {what}; wait for the build") from None
    return Reply(201, {"result": "ok"})


def remote_import(call: Call) -> Reply:
    """``POST /api/remote/import``: record a build another DLRN-compatible server made."""
    params = call.params
    p.only(params, ("repo_url",), "remote/import")
    repo_url = p.text(params.get("repo_url"), "repo_url", required=True) or ""
    _engine(lambda: import_commit(call.db, call.config, repo_url))
    return Reply(201, {"repo_url": repo_url})


ROUTES: List[Route] = [
    Route("/api/health", "GET", health),
    Route("/api/health", "POST", health, auth=True),
    Route("/api/repo_status", "GET", repo_status),
    Route("/api/agg_status", "GET", agg_status),
    Route("/api/last_tested_repo", "GET", last_tested_repo_get),
    Route("/api/last_tested_repo", "POST", last_tested_repo_post, auth=True, json_body=True, writes=True),
    Route("/api/report_result", "POST", report_result, auth=True, json_body=True, writes=True),
    Route("/api/promote", "POST", promote, auth=True, json_body=True),
    Route("/api/promote-batch", "POST", promote_batch_post, auth=True, json_body=True),
    Route("/api/promotions", "GET", promotions),
    Route("/api/metrics/builds", "GET", metrics_builds),
    Route("/api/remote/import", "POST", remote_import, auth=True, json_body=True),
    Route("/api/recheck_package", "POST", recheck_package, auth=True, json_body=True, writes=True),
]
