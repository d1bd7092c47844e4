"""A small stand-in for AWX's REST API (/api/v2/), enough for playbooks/awx_setup.yml: named objects in
collections with exact-match query filters, POST to create (names unique per collection and parent, as
AWX enforces), PATCH to update, a job template's credentials (associate by id) and schedules, Bearer
auth, and credential inputs whose secret fields read back as $encrypted$, as AWX returns them. Every
request is logged so tests can count writes."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

KINDS = ("organizations", "credential_types", "credentials", "projects", "inventories", "inventory_sources",
         "job_templates", "schedules")
# The fields that scope a name (AWX's unique-together constraints), beyond the collection itself.
NAME_SCOPE = {"inventory_sources": ("inventory",), "schedules": ("unified_job_template",)}
REQUIRED = {"credential_types": ("name", "kind", "inputs", "injectors"),
            "credentials": ("name", "credential_type", "inputs"),
            "projects": ("name", "organization", "scm_type", "scm_url"),
            "inventories": ("name", "organization"),
            "inventory_sources": ("name", "inventory", "source", "source_project", "source_path"),
            "job_templates": ("name", "inventory", "project", "playbook"),
            "schedules": ("name", "rrule", "unified_job_template")}


class FakeAwx:
    def __init__(self, token):
        self.token = token
        self.objects = {kind: {} for kind in KINDS}
        self.attached = {}  # job template id -> [credential id]
        self.log = []
        self.next_id = 1
        self.add("organizations", {"name": "Default"})
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add(self, kind, body):
        obj = dict(body, id=self.next_id)
        self.next_id += 1
        self.objects[kind][obj["id"]] = obj
        return obj

    def named(self, kind, name):
        return [obj for obj in self.objects[kind].values() if obj["name"] == name]

    def writes(self):
        return [(method, path) for method, path, _ in self.log if method != "GET"]

    def _secret_fields(self, credential):
        ctype = self.objects["credential_types"].get(credential.get("credential_type"), {})
        return {field["id"] for field in ctype.get("inputs", {}).get("fields", []) if field.get("secret")}

    def show(self, kind, obj):
        obj = copy.deepcopy(obj)
        if kind == "credentials":
            for field in self._secret_fields(obj):
                if obj["inputs"].get(field):
                    obj["inputs"][field] = "$encrypted$"
        return obj

    def create(self, kind, body, extra=None):
        body = dict(body, **(extra or {}))
        missing = [field for field in REQUIRED.get(kind, ("name",)) if field not in body]
        if missing:
            return 400, {field: ["This field is required."] for field in missing}
        scope = NAME_SCOPE.get(kind, ())
        for obj in self.objects[kind].values():
            if obj["name"] == body["name"] and all(obj.get(f) == body.get(f) for f in scope):
                return 400, {"__all__": [f"{kind} with this name already exists."]}
        return 201, self.show(kind, self.add(kind, body))

    def handle(self, method, url, body, auth):
        if auth != f"Bearer {self.token}":
            return 401, {"detail": "Authentication credentials were not provided."}
        parts = urlsplit(url)
        path = [p for p in parts.path.split("/") if p]
        if path[:2] != ["api", "v2"] or len(path) < 3 or path[2] not in KINDS:
            return 404, {"detail": "Not found."}
        kind, rest = path[2], path[3:]
        if not rest:
            if method == "GET":
                query = dict(parse_qsl(parts.query))
                results = [self.show(kind, obj) for obj in self.objects[kind].values()
                           if all(str(obj.get(k)) == v for k, v in query.items())]
                return 200, {"count": len(results), "results": results}
            if method == "POST":
                return self.create(kind, body)
            return 405, {}
        obj = self.objects[kind].get(int(rest[0]))
        if obj is None:
            return 404, {"detail": "Not found."}
        if len(rest) == 1 and method == "PATCH":
            if kind == "credentials" and "inputs" in body:
                body = dict(body, inputs={k: (obj["inputs"].get(k) if v == "$encrypted$" else v)
                                          for k, v in body["inputs"].items()})
            obj.update(body)
            return 200, self.show(kind, obj)
        if len(rest) == 1 and method == "GET":
            return 200, self.show(kind, obj)
        if kind == "job_templates" and rest[1:] == ["credentials"]:
            attached = self.attached.setdefault(obj["id"], [])
            if method == "GET":
                results = [self.show("credentials", self.objects["credentials"][i]) for i in attached]
                return 200, {"count": len(results), "results": results}
            if body.get("id") not in self.objects["credentials"]:
                return 400, {"id": ["Invalid credential."]}
            if body["id"] in attached:
                return 400, {"error": "already attached"}
            attached.append(body["id"])
            return 204, None
        if kind == "job_templates" and rest[1:] == ["schedules"] and method == "POST":
            return self.create("schedules", body, {"unified_job_template": obj["id"]})
        return 405, {}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                fake.log.append((self.command, self.path, body))
                status, answer = fake.handle(self.command, self.path, body, self.headers.get("Authorization"))
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

        return Handler
