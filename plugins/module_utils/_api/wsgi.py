"""The WSGI application: DLRN's routes over :mod:`.service`, served by gunicorn.

``gunicorn '<this module>:create_app("/path/api.json")'`` runs it.  Each
worker thread keeps its own state DB connection (opened on first use, again
after a fork); writes still go one at a time through the DB's writer lock.
Every answer of an ``/api/`` route, errors included, is JSON
``{"message": ...}`` with DLRN's status codes; the civotes pages are HTML
and ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from typing import Any, Callable, Dict, Iterable, Optional, Union

from .._common.errors import DistroforgeError
from .._publish.atomic import PublishBusy
from .._statedb.db import StateDB, StateDBBusy, StateDBUnavailable
from . import metrics, pages, service
from .config import ApiConfig
from .errors import ApiError
from .users import Authenticator

try:
    from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
    from werkzeug.routing import Map, Rule
    from werkzeug.wrappers import Request, Response
except ImportError as exc:  # reported by create_app(), on a host without the API's requirements
    _IMPORT_ERROR: Optional[ImportError] = exc
else:
    _IMPORT_ERROR = None

LOG = logging.getLogger("distroforge.api")
JSON = "application/json"
REALM = 'Basic realm="distroforge API"'
Page = Callable[[StateDB, ApiConfig, Dict[str, Any]], str]

_PAGES: Dict[str, Page] = {
    "/api/civotes.html": lambda db, config, params: pages.civotes(db, config, params, aggregate=False),
    "/api/civotes_agg.html": lambda db, config, params: pages.civotes(db, config, params, aggregate=True),
    "/api/civotes_detail.html": pages.civotes_detail,
    "/api/civotes_agg_detail.html": pages.civotes_agg_detail,
}


def _json_response(status: int, document: Any, headers: Optional[Dict[str, str]] = None) -> "Response":
    body = json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n"
    return Response(body, status=status, content_type=JSON, headers=headers)


class ApiApp:
    """The API as a WSGI callable."""

    def __init__(self, config: ApiConfig) -> None:
        if _IMPORT_ERROR is not None:
            raise RuntimeError(f"the REST API needs Werkzeug (requirements/python.in): {_IMPORT_ERROR}")
        self.config = config
        self._auth = Authenticator()
        self._local = threading.local()
        rules = [Rule(route.path, methods=[route.method], endpoint=route) for route in service.ROUTES]
        rules.extend(Rule(path, methods=["GET"], endpoint=path) for path in _PAGES)
        rules.append(Rule("/metrics", methods=["GET"], endpoint="/metrics"))
        self._map = Map(rules, strict_slashes=False)

    # -- the state DB, one connection per thread and process -----------------------------------

    def db(self) -> StateDB:
        """This thread's connection to the state DB (a new one after a fork, or when the server dropped it)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.db.broken:
            if getattr(local, "pid", None) == os.getpid():
                local.db.close()
            local.db = StateDB(self.config.db, lock_timeout=self.config.lock_timeout)
            local.pid = os.getpid()
        return local.db

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.config.max_body
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: "Request") -> "Response":
        """Route one request and answer it; never raises."""
        try:
            return self._answer(request)
        except ApiError as exc:
            return _json_response(exc.status, exc.body(), exc.headers)
        except RequestEntityTooLarge:
            message = f"request body larger than {self.config.max_body} bytes: send a smaller document"
            return _json_response(413, {"message": message})
        except (StateDBBusy, StateDBUnavailable, PublishBusy, sqlite3.OperationalError) as exc:
            # Another writer held a lock for too long (or SQLite's own wait ran out), or the database
            # server is away (the next request connects again): try again later.
            LOG.warning("%s %s: %s", request.method, request.path, exc)
            return _json_response(503, {"message": f"busy: {exc}: try again"}, {"Retry-After": "5"})
        except DistroforgeError as exc:
            LOG.error("%s %s: %s", request.method, request.path, exc)
            return _json_response(500, {"message": str(exc)})
        except Exception:
            # The client gets one line; the server's log keeps the traceback.
            LOG.exception("%s %s failed", request.method, request.path)
            return _json_response(500, {"message": "internal error: the API server's log has the details"})

    def _match(self, request: "Request") -> Any:
        try:
            return self._map.bind_to_environ(request.environ).match()[0]
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            message = f"{request.method} is not allowed on {request.path}: use {allowed}"
            raise ApiError(405, message, {"Allow": allowed}) from None
        except NotFound:
            raise ApiError(404, f"{request.path} not found: docs/api.md lists the routes") from None
        except HTTPException as exc:  # a redirect for a trailing slash, for instance
            raise ApiError(exc.code or 400, exc.description or exc.name) from None

    def _answer(self, request: "Request") -> "Response":
        endpoint = self._match(request)
        if isinstance(endpoint, service.Route):
            return self._api(request, endpoint)
        db = self.db()
        if endpoint == "/metrics":
            with db.reader():
                text, content_type = metrics.exposition(db, self.config.baseurl)
            return Response(text, status=200, content_type=content_type)
        params = self._query(request)
        with db.reader():
            html = _PAGES[endpoint](db, self.config, params)
        return Response(html, status=200, content_type="text/html; charset=utf-8")

    # -- API routes ---------------------------------------------------------------------------

    def _api(self, request: "Request", route: service.Route) -> "Response":
        user = self._authenticate(request) if route.auth else None
        if route.method == "GET":
            params = self._query(request)
            body = None
        else:
            body = self._body(request, route)
            params = body if isinstance(body, dict) else {}
        call = service.Call(db=self.db(), config=self.config, params=params, body=body, user=user)
        if route.method == "GET":
            with call.db.reader():
                reply = route.handler(call)
        elif route.writes:
            with call.db.writer():
                reply = route.handler(call)
        else:
            reply = route.handler(call)
        if route.writes or route.path in ("/api/promote", "/api/promote-batch", "/api/remote/import"):
            LOG.info("%s %s by %s: %s", route.method, route.path, user, reply.status)
        return _json_response(reply.status, reply.document)

    def _authenticate(self, request: "Request") -> str:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise ApiError(
                401, "Unauthorized Access: send the HTTP basic credentials of an API user", {"WWW-Authenticate": REALM}
            )
        username, password = auth.username, auth.password or ""
        db = self.db()
        with db.reader():
            known = self._auth.check(db, username, password)
        if not known:
            LOG.info("login failed for %r on %s %s", username, request.method, request.path)
            raise ApiError(401, "Unauthorized Access: wrong username or password", {"WWW-Authenticate": REALM})
        return username

    def _query(self, request: "Request") -> Dict[str, Any]:
        """GET parameters: the query string, then what a JSON body (DLRN's deprecated way) adds."""
        query = request.args.to_dict()
        body: Optional[Dict[str, Any]] = None
        if request.mimetype == JSON:
            data = request.get_data(cache=True)
            if data.strip():
                parsed = self._parse(data)
                if not isinstance(parsed, dict):
                    raise ApiError(400, "the JSON body of a GET must be an object of parameters")
                body = parsed
        return service.p.merged(query, body)

    def _body(self, request: "Request", route: service.Route) -> Union[Dict[str, Any], list, None]:
        data = request.get_data(cache=True)
        if not route.json_body:
            return {}
        if request.mimetype != JSON:
            if route.path == "/api/recheck_package" and not data.strip():
                return request.args.to_dict()  # newer DLRN also reads it from the query string
            raise ApiError(415, "Unsupported Media Type, use JSON")
        parsed = self._parse(data)
        if route.path == "/api/promote-batch":
            if not isinstance(parsed, list):
                raise ApiError(
                    400, "promote-batch: the body must be a JSON list of {commit_hash, distro_hash, promote_name}"
                )
            return parsed
        if not isinstance(parsed, dict):
            raise ApiError(400, f"{route.path}: the body must be a JSON object")
        return parsed

    @staticmethod
    def _parse(data: bytes) -> Any:
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError(400, "malformed JSON body: not UTF-8") from None
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON body: {exc}") from None


def create_app(config: Union[str, "os.PathLike[str]", ApiConfig, None] = None) -> ApiApp:
    """The application for ``config`` (an ApiConfig, a settings file, or ``$DISTROFORGE_API_CONFIG``)."""
    if config is None:
        config = os.environ.get("DISTROFORGE_API_CONFIG", "")
        if not config:
            raise RuntimeError("give the API settings file: create_app(path) or DISTROFORGE_API_CONFIG")
    if not isinstance(config, ApiConfig):
        config = ApiConfig.load(config)
    return ApiApp(config)
