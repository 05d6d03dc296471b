"""A tiny OpenStack on loopback: enough Keystone, Glance, Nova and Neutron for openstacksdk to list
images, flavors, networks, servers, keypairs and security groups, and to create and delete keypairs
and security groups, so the openstack driver's tasks run against something.

Hand-written: no maintained fake of these APIs installs from PyPI without a whole cloud. It keeps
state in memory, records every request, and fails the calls listed in ``fail`` with a 500.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeCloud:
    """State of the fake cloud; ``fail`` holds "METHOD /path-regex" entries answered with a 500."""

    images: list[dict[str, Any]] = field(default_factory=list)
    flavors: list[dict[str, Any]] = field(default_factory=list)
    networks: list[dict[str, Any]] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)
    keypairs: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    fail: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # where new servers are reachable: loopback, where a test's sshd plays the server
    server_address: str = "127.0.0.1"
    url: str = ""

    def catalog(self) -> list[dict[str, Any]]:
        return [
            {
                "type": kind,
                "name": name,
                "id": name,
                "endpoints": [
                    {
                        "interface": "public",
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": f"{self.url}/{path}",
                        "id": name,
                    }
                ],
            }
            for kind, name, path in (
                ("identity", "keystone", "identity/v3"),
                ("image", "glance", "image"),
                ("compute", "nova", "compute/v2.1"),
                ("network", "neutron", "network"),
            )
        ]


def _named(items: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    names = query.get("name")
    return [i for i in items if not names or i.get("name") in names]


def _handler(cloud: FakeCloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet: requests are recorded instead
            pass

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path, query = parts.path.rstrip("/"), parse_qs(parts.query)
            cloud.requests.append(f"{method} {path}")
            if any(re.fullmatch(rule.split(" ", 1)[1], path) for rule in cloud.fail if rule.split(" ", 1)[0] == method):
                return self._send(500, {"error": {"message": "injected failure", "code": 500}})
            body = self._body() if method in ("POST", "PUT") else {}
            for pattern, handler in ROUTES.get(method, []):
                match = re.fullmatch(pattern, path)
                if match:
                    return handler(self, cloud, query, body, *match.groups())
            return self._send(
                404, {"itemNotFound": {"message": f"fake cloud: no route for {method} {path}", "code": 404}}
            )

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


def _version(h, cloud, query, body, service):
    url = cloud.url
    versions = {
        "identity": {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": f"{url}/identity/v3/"}]},
        "image": {"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": f"{url}/image/v2/"}]},
        "compute": {
            "id": "v2.1",
            "status": "CURRENT",
            "version": "2.1",
            "min_version": "2.1",
            "links": [{"rel": "self", "href": f"{url}/compute/v2.1/"}],
        },
        "network": {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": f"{url}/network/v2.0/"}]},
    }[service]
    if service in ("identity", "compute") and h.path.rstrip("/").endswith(("v3", "v2.1")):
        return h._send(200, {"version": versions})
    return h._send(200, {"versions": [versions]})


def _token(h, cloud, query, body):
    token = {
        "methods": ["password"],
        "expires_at": "2999-01-01T00:00:00.000000Z",
        "issued_at": "2000-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "member"}],
        "catalog": cloud.catalog(),
    }
    h._send(201, {"token": token}, {"X-Subject-Token": "fake-token"})


def _get_one(h, items, key, kind):
    for item in items:
        if key in (item.get("id"), item.get("name")):
            return h._send(200, item if kind == "image" else {kind: item})
    return h._send(404, {"itemNotFound": {"message": f"{kind} {key} not found", "code": 404}})


def _list(key: str, attr: str):
    def handler(h, cloud, query, body):
        h._send(200, {key: _named(getattr(cloud, attr), query)})

    return handler


def _keypair_get(h, cloud, query, body, name):
    for keypair in cloud.keypairs:
        if keypair["name"] == name:
            return h._send(200, {"keypair": keypair})
    return h._send(404, {"itemNotFound": {"message": f"Keypair {name} not found", "code": 404}})


def _keypair_create(h, cloud, query, body):
    keypair = {**body["keypair"], "fingerprint": "fa:ke", "type": "ssh", "user_id": "u1"}
    cloud.keypairs.append(keypair)
    h._send(200, {"keypair": keypair})


def _keypair_delete(h, cloud, query, body, name):
    cloud.keypairs[:] = [k for k in cloud.keypairs if k["name"] != name]
    h._send(202)


def _server_get(h, cloud, query, body, sid):
    for server in cloud.servers:
        if sid in (server["id"], server["name"]):
            return h._send(200, {"server": server})
    return h._send(404, {"itemNotFound": {"message": f"Instance {sid} could not be found.", "code": 404}})


def _server_create(h, cloud, query, body):
    asked = body["server"]
    network = (cloud.networks or [{"name": "private"}])[0]["name"]
    server = {
        "id": str(uuid.uuid4()),
        "name": asked["name"],
        "status": "ACTIVE",
        "metadata": asked.get("metadata", {}),
        "key_name": asked.get("key_name"),
        "image": {"id": asked.get("imageRef")},
        "flavor": {"id": asked.get("flavorRef")},
        "security_groups": asked.get("security_groups", []),
        "addresses": {network: [{"addr": cloud.server_address, "version": 4, "OS-EXT-IPS:type": "fixed"}]},
        "accessIPv4": "",
        "tenant_id": "p1",
    }
    cloud.servers.append(server)
    h._send(202, {"server": {"id": server["id"], "links": []}})


def _server_groups(h, cloud, query, body, sid):
    names = {g.get("name") for s in cloud.servers if s["id"] == sid for g in s.get("security_groups", [])}
    h._send(200, {"security_groups": [g for g in cloud.security_groups if g["name"] in names]})


def _server_delete(h, cloud, query, body, sid):
    cloud.servers[:] = [s for s in cloud.servers if s["id"] != sid]
    h._send(204)


def _group_create(h, cloud, query, body):
    group = {**body["security_group"], "id": str(uuid.uuid4()), "security_group_rules": [], "project_id": "p1"}
    cloud.security_groups.append(group)
    h._send(201, {"security_group": group})


def _group_get(h, cloud, query, body, gid):
    for group in cloud.security_groups:
        if gid in (group["id"], group["name"]):
            return h._send(200, {"security_group": group})
    return h._send(404, {"NeutronError": {"message": f"Security group {gid} not found"}})


def _rule_create(h, cloud, query, body):
    asked = body.get("security_group_rules") or [body["security_group_rule"]]  # bulk or one
    # Neutron answers with every field, null when unset; openstack.cloud compares them all
    fields = ("description", "direction", "ethertype", "port_range_max", "port_range_min", "protocol")
    fields += ("remote_group_id", "remote_ip_prefix", "remote_address_group_id", "security_group_id")
    rules = [{**dict.fromkeys(fields), **rule, "id": str(uuid.uuid4()), "project_id": "p1"} for rule in asked]
    for rule in rules:
        for group in cloud.security_groups:
            if group["id"] == rule["security_group_id"]:
                group["security_group_rules"].append(rule)
    if "security_group_rules" in body:
        return h._send(201, {"security_group_rules": rules})
    return h._send(201, {"security_group_rule": rules[0]})


def _group_delete(h, cloud, query, body, gid):
    cloud.security_groups[:] = [g for g in cloud.security_groups if g["id"] != gid]
    h._send(204)


ROUTES: dict[str, list[tuple[str, Any]]] = {
    "GET": [
        (r"/identity", lambda h, c, q, b: _version(h, c, q, b, "identity")),
        (r"/identity/v3", lambda h, c, q, b: _version(h, c, q, b, "identity")),
        (r"/image", lambda h, c, q, b: _version(h, c, q, b, "image")),
        (r"/compute", lambda h, c, q, b: _version(h, c, q, b, "compute")),
        (r"/compute/v2.1", lambda h, c, q, b: _version(h, c, q, b, "compute")),
        (r"/network", lambda h, c, q, b: _version(h, c, q, b, "network")),
        (r"/image/v2/images", _list("images", "images")),
        (r"/image/v2/images/([^/]+)", lambda h, c, q, b, i: _get_one(h, c.images, i, "image")),
        (r"/compute/v2.1/flavors/detail", _list("flavors", "flavors")),
        (r"/compute/v2.1/servers/detail", _list("servers", "servers")),
        (
            r"/compute/v2.1/os-keypairs",
            lambda h, c, q, b: h._send(200, {"keypairs": [{"keypair": k} for k in _named(c.keypairs, q)]}),
        ),
        (r"/compute/v2.1/os-keypairs/([^/]+)", _keypair_get),
        (r"/compute/v2.1/servers/([^/]+)", _server_get),
        (r"/compute/v2.1/servers/([^/]+)/os-security-groups", _server_groups),
        (r"/network/v2.0/networks", _list("networks", "networks")),
        (r"/network/v2.0/floatingips", lambda h, c, q, b: h._send(200, {"floatingips": []})),
        (r"/network/v2.0/ports", lambda h, c, q, b: h._send(200, {"ports": []})),
        (r"/network/v2.0/security-groups", _list("security_groups", "security_groups")),
        (r"/network/v2.0/security-groups/([^/]+)", _group_get),
    ],
    "POST": [
        (r"/identity/v3/auth/tokens", _token),
        (r"/compute/v2.1/os-keypairs", _keypair_create),
        (r"/compute/v2.1/servers", _server_create),
        (r"/network/v2.0/security-groups", _group_create),
        (r"/network/v2.0/security-group-rules", _rule_create),
    ],
    "DELETE": [
        (r"/compute/v2.1/os-keypairs/([^/]+)", _keypair_delete),
        (r"/compute/v2.1/servers/([^/]+)", _server_delete),
        (r"/network/v2.0/security-groups/([^/]+)", _group_delete),
    ],
}


class FakeCloudServer:
    """Serve ``cloud`` on 127.0.0.1 in a thread; ``clouds_yaml()`` describes it for openstacksdk."""

    def __init__(self, cloud: FakeCloud) -> None:
        self.cloud = cloud
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cloud))
        cloud.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeCloudServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def clouds_yaml(self, name: str = "fake") -> dict[str, Any]:
        return {
            "clouds": {
                name: {
                    "auth": {
                        "auth_url": f"{self.cloud.url}/identity/v3",
                        "username": "demo",
                        "password": "secret",
                        "project_name": "demo",
                        "user_domain_name": "Default",
                        "project_domain_name": "Default",
                    },
                    "region_name": "RegionOne",
                    "identity_api_version": 3,
                }
            }
        }
