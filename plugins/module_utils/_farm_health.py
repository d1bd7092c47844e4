# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm's health in one read-only pass (the farm_health module, playbooks/health.yml).

Every check is a row {"subject", "check", "status" (ok | warning | critical), "detail", "threshold"}.
Requests per run, counted at Consul and Nomad (G: gateways run by Nomad; A: their agents; the bus
counts only when farm_bus.enabled):

    Nomad   3 G  (job, its allocations, its latest deployment)
          +   G  (the variable nomad/jobs/<job> of each gateway)
          + 2 G  with the bus (the gateway's bus-token variable and its node's bus-job variable)
    Consul    G  (health of the gateway's service: both checks and the published address)
          +   1  (the registry, one recursive read: agents and live gateways)
          + 2 A  with the bus (per inbox: the messages, one recursive read; the dead letters, keys only)

    bus off: 5 G + 1        bus on: 7 G + 2 A + 1
plus G GETs of /healthz at the addresses Consul publishes and, opt-in, A chat completions.
A variable is read to compare its keys with the ones its job's templates need; its values are
dropped at once and never returned."""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm
from ansible_collections.octant.openclaw.plugins.module_utils._errors import InputError, ServiceError
from ansible_collections.octant.openclaw.plugins.module_utils._nomad import path_segment

OK, WARNING, CRITICAL = "ok", "warning", "critical"
RANK = {OK: 0, WARNING: 1, CRITICAL: 2}
MESSAGE_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}/\d{12}", re.ASCII)
GATEWAY_CHECKS = ("healthz", "healthz-body")  # the two Consul checks of the gateway job's service


def request_formula(gateways, agents, bus):
    """Requests one run makes to Consul and Nomad (see the module docstring)."""
    return 7 * gateways + 2 * agents + 1 if bus else 5 * gateways + 1


def _row(subject, check, status, detail, threshold=""):
    return {"subject": subject, "check": check, "status": status, "detail": detail, "threshold": threshold}


def _parse_time(text):
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_health(nomad, consul, params, ctx):
    """farm_health: the model is checked first (its problems, not a health report, when it has any)."""
    problems = fm.validate(params["model"])
    if problems:
        raise InputError(fm.format_problems(problems), result={"problems": problems})
    health = FarmHealth(nomad, consul, nomad.http.session, fm.normalize(params["model"]),
                        whatsapp=params["whatsapp_sessions"], probe_agents=params["probe_agents"],
                        gateway_token=params["gateway_token"], registry_root=params["registry_root"],
                        bus_root=params["bus_root"])
    return dict(changed=False, **health.run())


class FarmHealth:
    """One health run. `nomad` a NomadApi, `consul` a ConsulApi, `http` a requests.Session for the
    gateways; `model` the validated, normalised farm model."""

    def __init__(self, nomad, consul, http, model, whatsapp=None, probe_agents=False, gateway_token=None,
                 registry_root=fm.BUS_REGISTRY_ROOT, bus_root=fm.BUS_ROOT, now=None):
        self.nomad = nomad
        self.consul = consul
        self.http = http
        self.model = model
        self.health = model.get("farm_health") or fm.normalize({"farm_health": {}})["farm_health"]
        self.whatsapp = {(w["gateway"], w["account"]): bool(w["linked"]) for w in whatsapp or ()}
        self.probe_agents = probe_agents
        self.gateway_token = gateway_token
        self.registry_root = registry_root.strip("/")
        self.bus_root = bus_root.strip("/")
        self.now = now or (lambda: datetime.datetime.now(datetime.UTC).timestamp())
        self.bus = fm.bus_enabled(model)
        self.gateways = [gw for gw in model["farm_gateways"] if fm.gateway_runtime(gw) == "nomad"]
        names = {gw["name"] for gw in self.gateways}
        self.agents = [a for a in model["farm_agents"] if a["gateway"] in names]
        self.rows = []
        self.addresses = {}

    # -- the run ---------------------------------------------------------------------------------
    def run(self):
        for gw in self.gateways:
            self._gateway(gw)
        self._variables()
        registry = self._registry()
        self._agents(registry)
        if self.bus:
            for agent in self.agents:
                self._inbox(agent)
        self._whatsapp()
        if self.probe_agents:
            self._probe()
        critical = [r for r in self.rows if r["status"] == CRITICAL]
        worst = max((RANK[r["status"]] for r in self.rows), default=0)
        return {"status": next(k for k, v in RANK.items() if v == worst), "checks": self.rows,
                "critical": [self.describe(r) for r in critical],
                "table": self.table(),
                "requests": {"formula": "7 G + 2 A + 1" if self.bus else "5 G + 1",
                             "gateways": len(self.gateways), "agents": len(self.agents),
                             "expected": request_formula(len(self.gateways), len(self.agents), self.bus)}}

    def add(self, *args, **kwargs):
        self.rows.append(_row(*args, **kwargs))

    @staticmethod
    def describe(row):
        text = f"{row['subject']}: {row['check']} {row['detail']}"
        return f"{text} (threshold: {row['threshold']})" if row["threshold"] else text

    def table(self):
        """Fixed-width lines: STATUS SUBJECT CHECK DETAIL, the worst first within the run's order."""
        widths = [max([len(h)] + [len(r[k]) for r in self.rows]) for h, k in
                  (("STATUS", "status"), ("SUBJECT", "subject"), ("CHECK", "check"))]

        def line(status, subject, check, detail):
            return f"{status.upper():<{widths[0]}}  {subject:<{widths[1]}}  {check:<{widths[2]}}  {detail}".rstrip()
        rows = sorted(self.rows, key=lambda r: -RANK[r["status"]])
        out = [line("status", "SUBJECT", "CHECK", "DETAIL")]
        for r in rows:
            detail = r["detail"] + (f"  [{r['threshold']}]" if r["threshold"] and r["status"] != OK else "")
            out.append(line(r["status"], r["subject"], r["check"], detail))
        counts = {s: sum(1 for r in self.rows if r["status"] == s) for s in RANK}
        out.append(f"{len(self.rows)} checks: {counts[OK]} ok, {counts[WARNING]} warning, {counts[CRITICAL]} critical")
        return out

    def _guard(self, subject, check, call, *args):
        """Run one call; an unreachable service or an error answer is a critical row, not a crash."""
        try:
            return True, call(*args)
        except ServiceError as exc:
            self.add(subject, check, CRITICAL, exc.text[:300], "the service answers")
            return False, None

    # -- gateways ----------------------------------------------------------------------------------
    def _gateway(self, gw):
        job_id = fm.job_name(gw["name"])
        subject = f"gateway {gw['name']}"
        ok, job = self._guard(subject, "nomad job", self.nomad.get_job, job_id)
        if ok:
            if job is None:
                self.add(subject, "nomad job", CRITICAL, f"{job_id} does not exist", "the job is registered")
            elif job.get("Stop"):
                self.add(subject, "nomad job", CRITICAL, f"{job_id} is stopped", "the job runs")
            else:
                status = OK if job.get("Status") == "running" else CRITICAL
                self.add(subject, "nomad job", status, f"{job_id} v{job.get('Version')} {job.get('Status')}",
                         "status running")
        if job is not None:
            ok, allocs = self._guard(subject, "allocation", lambda: self.nomad.job_allocations(job_id)[0])
            if ok:
                self._allocation(subject, allocs)
            ok, deployment = self._guard(subject, "deployment", lambda: self.nomad.job_deployment(job_id)[0])
            if ok:
                self._deployment(subject, deployment)
        ok, entries = self._guard(subject, "consul checks", self._service_health, job_id)
        if ok:
            self._consul_checks(subject, job_id, entries)
        self._healthz(subject)

    def _allocation(self, subject, allocs):
        wanted = [a for a in allocs if a.get("DesiredStatus") == "run"]
        if not wanted:
            self.add(subject, "allocation", CRITICAL, "none is meant to run", "one allocation running")
            return
        latest = max(wanted, key=lambda a: (a.get("CreateIndex") or 0))
        status = latest.get("ClientStatus")
        healthy = (latest.get("DeploymentStatus") or {}).get("Healthy")
        detail = f"{str(latest.get('ID', ''))[:8]} on {latest.get('NodeName') or '?'} {status}"
        if healthy is False:
            detail += ", unhealthy"
        level = OK if status == "running" and healthy is not False else WARNING if status == "pending" else CRITICAL
        self.add(subject, "allocation", level, detail, "client status running")

    def _deployment(self, subject, deployment):
        if not deployment:
            self.add(subject, "deployment", WARNING, "none yet", "latest deployment successful")
            return
        status = deployment.get("Status")
        level = OK if status == "successful" else WARNING if status == "running" else CRITICAL
        detail = f"v{deployment.get('JobVersion')} {status}"
        if level != OK and deployment.get("StatusDescription"):
            detail += f": {deployment['StatusDescription']}"
        self.add(subject, "deployment", level, detail, "latest deployment successful")

    def _service_health(self, service):
        reply = self.consul.call("GET", f"/v1/health/service/{path_segment(service)}",
                                 what=f"health of service {service!r}", needs=f'service "{service}" read')
        return reply.body or []

    def _consul_checks(self, subject, service, entries):
        if not entries:
            for name in GATEWAY_CHECKS:
                self.add(subject, f"check {name}", CRITICAL, f"service {service} is not registered in Consul",
                         "passing")
            return
        entry = entries[0]
        svc = entry.get("Service") or {}
        node = entry.get("Node") or {}
        address = svc.get("Address") or node.get("Address")
        if address and svc.get("Port"):
            self.addresses[subject] = f"http://{address}:{svc['Port']}"
        checks = {c.get("Name"): c for c in entry.get("Checks") or () if c.get("ServiceID")}
        for name in GATEWAY_CHECKS:
            check = checks.get(name)
            if check is None:
                self.add(subject, f"check {name}", CRITICAL, "missing from the service", "passing")
                continue
            status = check.get("Status")
            level = OK if status == "passing" else WARNING if status == "warning" else CRITICAL
            output = (check.get("Output") or "").strip().splitlines()
            detail = status + (f": {output[0][:120]}" if output and level != OK else "")
            self.add(subject, f"check {name}", level, detail, "passing")

    def _healthz(self, subject):
        url = self.addresses.get(subject)
        if url is None:
            self.add(subject, "healthz", CRITICAL, "no address published in Consul", 'body {"ok": true}')
            return
        try:
            response = self.http.get(url + "/healthz", timeout=self.health["healthz_timeout_seconds"],
                                     headers={"Accept": "application/json"})
            body = response.json()
        except ValueError:
            self.add(subject, "healthz", CRITICAL, f"{url}/healthz answered {response.status_code}, not JSON",
                     'body {"ok": true}')
            return
        except Exception as exc:  # any transport failure is the finding
            self.add(subject, "healthz", CRITICAL, f"{url}/healthz: {type(exc).__name__}", 'body {"ok": true}')
            return
        ok = response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True
        self.add(subject, "healthz", OK if ok else CRITICAL,
                 f"{url}/healthz {response.status_code} {json.dumps(body)[:80]}", 'body {"ok": true}')

    # -- Nomad variables ---------------------------------------------------------------------------
    def needed_variables(self):
        """[(path, job, sorted keys)] the jobs' templates read (ErrMissingKey: a missing key stops the task)."""
        out = []
        for gw in self.gateways:
            job = fm.job_name(gw["name"])
            keys = sorted(fm.secret_env(self.model, gw["name"]))
            out.append((fm.gateway_variable(gw["name"]), job, keys))
            if self.bus:
                agents = [a["id"] for a in fm.gateway_agents(self.model, gw["name"])]
                out.append((fm.gateway_bus_variable(gw["name"]), job, sorted(fm.bus_mcp_token_env(a) for a in agents)))
                bus_job = fm.bus_job_name(gw["node"])
                bus_keys = [fm.bus_consul_token_env(a) for a in agents] + [fm.bus_mcp_token_env(a) for a in agents]
                out.append((fm.bus_variable(gw["node"]), bus_job,
                            sorted(bus_keys + [fm.BUS_GATEWAY_CONSUL_TOKEN_ENV, fm.GATEWAY_TOKEN_ENV])))
        return out

    def _variables(self):
        for path, job, keys in self.needed_variables():
            subject = f"job {job}"
            ok, variable = self._guard(subject, "variable", self.nomad.get_variable, path)
            if not ok:
                continue
            have = set((variable or {}).get("Items") or {}) if variable else None
            variable = None  # the values are never kept
            if have is None:
                self.add(subject, "variable", CRITICAL, f"{path} does not exist", "exists with every key")
                continue
            missing = [k for k in keys if k not in have]
            self.add(subject, "variable", CRITICAL if missing else OK,
                     f"{path} lacks {', '.join(missing)}" if missing else f"{path} has its {len(keys)} keys",
                     "exists with every key")

    # -- registry, agents, bus ---------------------------------------------------------------------
    def _registry(self):
        ok, entries = self._guard("registry", "read", self.consul.kv_get_tree, self.registry_root + "/")
        agents, live = {}, {}
        for entry in entries or ():
            key = entry.get("Key", "")
            rest = key[len(self.registry_root) + 1:]
            try:
                value = json.loads(entry["Value"] or b"null")
            except ValueError:
                value = None
            if rest.startswith("agents/") and isinstance(value, dict):
                agents[rest[len("agents/"):]] = value
            elif rest.startswith("gateways/") and entry.get("Session") and isinstance(value, dict):
                live[rest[len("gateways/"):]] = value
        return {"ok": ok, "agents": agents, "live": live}

    def _agents(self, registry):
        if not registry["ok"]:
            return
        for agent in self.agents:
            subject = f"agent {agent['id']}"
            record = registry["agents"].get(agent["id"])
            if record is None:
                self.add(subject, "registry", CRITICAL, "no record in the registry", "registered")
                continue
            if record.get("gateway") != agent["gateway"]:
                self.add(subject, "registry", CRITICAL,
                         f"registered on gateway {record.get('gateway')!r}, the model says {agent['gateway']!r}",
                         "registered on its gateway")
                continue
            if not self.bus:
                self.add(subject, "registry", OK, f"registered on gateway {agent['gateway']}", "registered")
                continue
            presence = registry["live"].get(agent["gateway"])
            online = presence is not None
            state = f"online since {presence.get('started_at')}" if online else "offline"
            self.add(subject, "liveness", OK if online else CRITICAL, f"gateway {agent['gateway']} {state}",
                     "its gateway's bus process holds the registry session")
            relayed = online and agent["id"] in (presence.get("agents") or ())
            self.add(f"inbox {agent['id']}", "relay", OK if relayed else CRITICAL,
                     f"bus process on {presence.get('node')} relays it" if relayed
                     else f"no live bus process of gateway {agent['gateway']} relays it",
                     "a relay is present")

    def _inbox(self, agent):
        agent_id = agent["id"]
        subject = f"inbox {agent_id}"
        limits = fm.health_thresholds(self.model, agent_id)
        where = ("farm_health.inboxes." + agent_id) if agent_id in (self.health.get("inboxes") or {}) \
            else "farm_health"
        prefix = f"{self.bus_root}/{agent_id}/"
        ok, entries = self._guard(subject, "backlog", self.consul.kv_get_tree, prefix + "in/")
        if ok:
            messages = [e for e in entries if MESSAGE_KEY_RE.fullmatch(e.get("Key", "")[len(prefix) + 3:])]
            backlog = len(messages)
            self.add(subject, "backlog", CRITICAL if backlog > limits["backlog_max"] else OK,
                     f"{backlog} unacknowledged", f"{where}.backlog_max {limits['backlog_max']}")
            sent = []
            for entry in messages:
                try:
                    sent.append(_parse_time(json.loads(entry["Value"])["metadata"]["sent_at"]))
                except (ValueError, KeyError, TypeError):
                    continue
            sent = [s for s in sent if s is not None]
            age = max(0.0, self.now() - min(sent)) if sent else 0.0
            limit = limits["oldest_unacked_max_seconds"]
            self.add(subject, "oldest unacked", CRITICAL if age > limit else OK,
                     f"{age:.0f} s" if sent else "none waiting", f"{where}.oldest_unacked_max_seconds {limit:g}")
        ok, reply = self._guard(subject, "dead letters", lambda: self.consul.call(
            "GET", f"/v1/kv/{prefix}dead/", params={"keys": ""}, ok=(200, 404),
            what=f"KV keys of {prefix}dead/", needs=f'key_prefix "{prefix}dead/" read'))
        if ok:
            dead = len(reply.body or []) if reply.status == 200 else 0
            self.add(subject, "dead letters", CRITICAL if dead > limits["dead_letters_max"] else OK,
                     f"{dead} kept", f"{where}.dead_letters_max {limits['dead_letters_max']}")

    # -- WhatsApp, probes --------------------------------------------------------------------------
    def _whatsapp(self):
        for channel in self.model.get("farm_channels") or ():
            if channel["kind"] != "whatsapp":
                continue
            subject = f"whatsapp {channel['gateway']}/{channel['account']}"
            linked = self.whatsapp.get((channel["gateway"], channel["account"]))
            if linked is None:
                self.add(subject, "linked session", WARNING, "not looked at (its node was not reached)",
                         "creds.json on the node")
            else:
                self.add(subject, "linked session", OK if linked else CRITICAL,
                         "creds.json present" if linked else "no creds.json: link it with playbooks/whatsapp_login.yml",
                         "creds.json on the node")

    def _probe(self):
        prompt = self.health["probe_prompt"]
        for agent in self.agents:
            subject = f"agent {agent['id']}"
            url = self.addresses.get(f"gateway {agent['gateway']}")
            if url is None:
                self.add(subject, "answer", CRITICAL, "its gateway publishes no address", "one answer")
                continue
            try:
                response = self.http.post(
                    url + "/v1/chat/completions", timeout=self.health["probe_timeout_seconds"],
                    headers={"Authorization": f"Bearer {self.gateway_token}"} if self.gateway_token else {},
                    json={"model": f"openclaw/{agent['id']}", "user": "octant-health",
                          "messages": [{"role": "user", "content": prompt}]})
                text = response.json()["choices"][0]["message"]["content"] if response.status_code == 200 else None
            except Exception as exc:  # the failure is the finding
                self.add(subject, "answer", CRITICAL, f"no answer: {type(exc).__name__}", "one answer")
                continue
            if not isinstance(text, str) or not text.strip():
                self.add(subject, "answer", CRITICAL, f"HTTP {response.status_code}, no answer text", "one answer")
            else:
                self.add(subject, "answer", OK, f"answered {text.strip()[:40]!r}", "one answer")
