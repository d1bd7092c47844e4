# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm model: its schema, its validation and the facts derived from it.

The farm model is the one source of truth of a deployment (inventory group_vars):

    openclaw_version      the OpenClaw release every gateway runs ("2026.9.6")
    farm_gateways         one OpenClaw gateway per entry: a Nomad job (runtime: nomad, the default) or a
                          LaunchAgent on a workstation (runtime: launchd, the MacBook's own gateway)
    farm_agents           agents, each on one gateway
    farm_channels         chat accounts (slack, discord, whatsapp), each owned by one gateway
    farm_model_providers  LiteLLM, Anthropic, ZAI, LM Studio ... and the models they offer; `local_to`
                          restricts a provider to the gateways of some nodes (LM Studio on the MacBook)
    farm_secrets          gateway-wide secrets: environment variable name -> op:// reference
    farm_bus              the agent-to-agent message bus (phase 3): one bus process per gateway node,
                          its MCP server in every gateway's config, go/no-go thresholds of its benchmark
    farm_health           the thresholds of playbooks/health.yml (bus backlog, age of the oldest unacked
                          message, dead letters; per-inbox overrides) and its probe timeouts
    farm_alerts           the alert watcher (`openclaw-bus watch`, a task of every bus job): Apprise URLs as
                          op:// references, grace period, rate limit
    farm_backup           playbooks/backup.yml and restore.yml: the restic repository, its password (an op://
                          reference), retention (keep_daily/weekly/monthly) and how often `restic check` runs

`validate()` checks all of it at once and returns every problem, one per problem, each a dict
{"path": "farm_agents[1].gateway", "msg": "...", "fix": "..."}. No secret value is ever part of a
message: a value that should be an op:// reference and is not is never echoed.

Pure Python, no I/O: shared by the farm_validate module, the openclaw filters and the tests."""

from __future__ import annotations

import datetime
import difflib
import math
import re
import unicodedata

# ------------------------------------------------------------------------------------------------
# Facts about OpenClaw 2026.9.6 (from `openclaw config schema` and its bundled docs)
# ------------------------------------------------------------------------------------------------

# agents.entries property names.
AGENT_ID_RE = re.compile(r"[a-z0-9_][a-z0-9_-]{0,63}", re.ASCII)
# SecretRef {source: env} ids.
ENV_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{0,127}", re.ASCII)
# Channel account ids (bindings[].match.accountId, channels.<kind>.accounts.<id>).
ACCOUNT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
# A gateway becomes the Nomad job and Consul service "openclaw-<name>": a DNS label (<= 63).
GATEWAY_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,52}[a-z0-9])?", re.ASCII)
JOB_PREFIX = "openclaw-"
PROVIDER_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,31}", re.ASCII)
CAPABILITY_RE = re.compile(r"[a-z][a-z0-9-]{0,63}", re.ASCII)
# farm_bus.version: a PEP 440 release of the openclaw-bus package (no local or epoch parts).
PACKAGE_VERSION_RE = re.compile(r"\d{1,4}(?:\.\d{1,4}){0,3}(?:(?:a|b|rc)\d{1,4})?(?:\.post\d{1,4})?(?:\.dev\d{1,4})?",
                                re.ASCII)
VERSION_RE = re.compile(r"\d{4}\.\d{1,2}\.\d{1,2}(?:-[0-9A-Za-z.]+)?", re.ASCII)
# heartbeat.every: OpenClaw's parseDurationMs (single or composite units; bare numbers are minutes).
DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)?|(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)", re.ASCII)
CLOCK_RE = re.compile(r"(?:[01]\d|2[0-3]|24):[0-5]\d", re.ASCII)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\Z)(?:{_LABEL}\.)*{_LABEL}", re.ASCII)
URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[^\s]*)?", re.ASCII)
COMMAND_RE = re.compile(r"[A-Za-z0-9_./+-]{1,255}", re.ASCII)
# Nomad node names: a node becomes part of the bus job and Consul service openclaw-bus-<node>.
NODE_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,52}[a-z0-9])?", re.ASCII)
# Container image references (registry/path:tag[@digest]); no whitespace, quotes or template syntax.
IMAGE_RE = re.compile(r"[a-z0-9][a-z0-9._/-]{0,200}(?::[0-9]{1,5}/[a-z0-9._/-]+)?(?::[A-Za-z0-9_.-]{1,128})?"
                      r"(?:@sha256:[0-9a-f]{64})?", re.ASCII)
# Model ids as providers name them: glm-4.6, claude-sonnet-4-5, openai/gpt-4o (LiteLLM), llama3:8b (Ollama).
MODEL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}", re.ASCII)
# Channel user, peer, guild and team ids: U04OCTANT01, C04ALERTS01, 1100000000000000001, +15555550100,
# 120363000000000000@g.us; allow_from may also be "*".
PEER_ID_RE = re.compile(r"[A-Za-z0-9+][A-Za-z0-9@._:+-]{0,127}", re.ASCII)
ALLOW_FROM_RE = re.compile(r"\*|[A-Za-z0-9+][A-Za-z0-9@._:+-]{0,127}", re.ASCII)
# IANA time zone names (Europe/Berlin, America/Argentina/Buenos_Aires, UTC, Etc/GMT+2).
TIMEZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,31}(?:/[A-Za-z0-9_+-]{1,32}){0,3}", re.ASCII)
# Longest single-line string (names, ids, URLs) and free text (descriptions, prompts).
MAX_LINE = 512
MAX_TEXT = 16384
# Deepest nesting of plain data the model may have (it needs six levels; a YAML cycle has no end).
MAX_DEPTH = 32

CHANNEL_KINDS = ("discord", "slack", "whatsapp")
DM_POLICIES = ("allowlist", "disabled", "open", "pairing")
GROUP_POLICIES = ("allowlist", "disabled", "open")
PEER_KINDS = {"slack": ("channel", "direct", "group"), "discord": ("channel", "direct", "group"),
              "whatsapp": ("direct", "group")}
# Secrets each channel kind needs (model key -> what it is); WhatsApp links by QR code instead.
CHANNEL_SECRETS = {"slack": ("app_token", "bot_token"), "discord": ("token",), "whatsapp": ()}
# The env var names OpenClaw itself falls back to for a channel's default account, kept here so
# the SecretRefs and the Nomad variable agree (other accounts get <KIND>_<ACCOUNT>_...).
CHANNEL_SECRET_ENV = {("slack", "bot_token"): "BOT_TOKEN", ("slack", "app_token"): "APP_TOKEN",
                      ("discord", "token"): "BOT_TOKEN"}
PROVIDER_APIS = ("anthropic-messages", "azure-openai-responses", "bedrock-converse-stream", "github-copilot",
                 "google-generative-ai", "google-vertex", "ollama", "openai-chatgpt-responses",
                 "openai-completions", "openai-responses", "pi-messages")
MODEL_INPUTS = ("audio", "image", "text", "video")
# Providers OpenClaw 2026.9.6 ships (anthropic) or that need their key; others may omit api_key.
PROVIDERS_NEEDING_KEY = ("anthropic", "litellm", "zai")
PROVIDERS_WITH_BUILTIN_URL = ("anthropic",)
# Workspace bootstrap files OpenClaw 2026.9.6 reads (docs/concepts/agent-workspace.md).
WORKSPACE_FILES = ("AGENTS.md", "BOOT.md", "IDENTITY.md", "MEMORY.md", "SOUL.md", "USER.md")
RETIRED_WORKSPACE_FILES = {
    "HEARTBEAT.md": ("is retired in OpenClaw 2026.9: new workspaces do not get it and the gateway no longer "
                     "reads it (heartbeat instructions live in the heartbeat monitor)",
                     "remove it from workspace_files and put the checklist in the agent's heartbeat.prompt"),
    "TOOLS.md": ("is retired in OpenClaw 2026.9: it is not a bootstrap file any more (doctor merges it into "
                 "the '## Tools' section of AGENTS.md)",
                 "remove it from workspace_files and move its content to a '## Tools' section of AGENTS.md"),
    "BOOTSTRAP.md": ("is OpenClaw's one-time first-run ritual, deleted once done; templating it would restart "
                     "the ritual on every deployment",
                     "remove it from workspace_files (put standing instructions in AGENTS.md)"),
}
# Measured footprint of one gateway: about 0.8 GB idle, 1.3 GB peak RSS.
MIN_MEMORY_MB = 1280
MIN_CPU_MHZ = 500
# Upper bounds of Nomad resources (CPU MHz, MemoryMB, Go ints): far beyond any homelab node, so a typo
# (an extra zero or two, a value in bytes) is refused here instead of leaving a job Nomad cannot place.
MAX_CPU_MHZ = 256000
MAX_MEMORY_MB = 1048576  # 1 TiB
# Nomad's own minimum for a task (structs.Resources.Validate: MemoryMB >= 10, CPU >= 1).
NOMAD_MIN_MEMORY_MB = 10
MAX_PORT = 65535
MAX_TOKENS = 100000000
# OpenClaw derives ports from the gateway port up to port + 110 (browser control, CDP range).
DERIVED_PORT_SPAN = 110
GATEWAY_TOKEN_ENV = "OPENCLAW_GATEWAY_TOKEN"
# How a gateway runs: a Nomad job (podman container on a Nomad client) or a LaunchAgent on a workstation
# (macOS launchd, openclaw from npm; roles/macos_gateway).
RUNTIMES = ("launchd", "nomad")
DEFAULT_RUNTIME = "nomad"
# gateway.bind of OpenClaw 2026.9.6 ("custom" needs a host of its own and is not offered). A container
# must listen on its LAN interface; a workstation's gateway stays on loopback unless the model says so.
GATEWAY_BINDS = ("auto", "lan", "loopback", "tailnet")
DEFAULT_BIND = {"nomad": "lan", "launchd": "loopback"}
# Settings that only mean something for a Nomad job, and why (a launchd gateway rejects them).
NOMAD_ONLY = {
    "image": ("is the container image of a Nomad gateway", "installs openclaw@<openclaw_version> with npm"),
    "resources": ("are the Nomad task's CPU and memory", "runs as a process of the logged-in user, without limits"),
    "hostname": ("is the Traefik route of a Nomad gateway's Consul service", "is not behind Traefik"),
    "bridge_port": ("is the container port of a Nomad gateway's bridge", "listens on its port only"),
}
DEFAULT_ACCOUNT = "default"

TOP_LEVEL = ("openclaw_version", "farm_gateways", "farm_agents", "farm_channels", "farm_model_providers",
             "farm_secrets", "farm_bus", "farm_health", "farm_alerts", "farm_backup")
# The bus (src/openclaw_bus): KV roots, the MCP server's container port, env names of its credentials.
BUS_ROOT = "openclaw/bus"
BUS_REGISTRY_ROOT = "openclaw/registry"
BUS_JOB_PREFIX = "openclaw-bus-"
BUS_SERVER_RE = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
BUS_MCP_TOKEN_ENV = "BUS_MCP_TOKEN_"
BUS_CONSUL_TOKEN_ENV = "BUS_CONSUL_TOKEN_"
BUS_GATEWAY_CONSUL_TOKEN_ENV = "BUS_GATEWAY_CONSUL_TOKEN"
# The alert watcher (`openclaw-bus watch`): its KV prefix, and the items of its task-level Nomad variable
# (the bus task cannot read them): its Consul token and the Apprise URLs, space-separated.
WATCH_ROOT = "openclaw/watch"
WATCH_TASK = "watch"
WATCH_CONSUL_TOKEN_ENV = "BUS_WATCH_CONSUL_TOKEN"
ALERT_URLS_ENV = "OPENCLAW_ALERT_URLS"
ALERT_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}", re.ASCII)
VAR_PREFIX = "farm_"


class F:
    """One field of the model: kind (str, int, bool, list, dict = fixed keys, map = free keys),
    whether it is required, its default, allowed choices and nested specs."""

    def __init__(self, kind, required=False, default=None, choices=None, fields=None, elements=None, values=None,
                 secret=False, example=None, lo=None, hi=None, why="", pattern=None, what=None, fix=None, text=False,
                 maxlen=None):
        self.kind = kind
        self.required = required
        self.default = default
        self.choices = choices
        self.fields = fields
        self.elements = elements
        self.values = values
        self.secret = secret
        self.example = example
        # Numbers: the closed range [lo, hi] (every int and num has one) and why it is that range.
        self.lo = lo
        self.hi = hi
        self.why = why
        # Strings: a pattern the whole value must match (re.fullmatch), what it is and how to fix it.
        self.pattern = pattern
        self.what = what
        self.fix = fix
        # Free text may span lines (description, prompt); everything else is one line.
        self.text = text
        self.maxlen = maxlen or (MAX_TEXT if text else MAX_LINE)


def _str_list(element=None, **kw):
    return F("list", elements=element or F("str"), **kw)


def _line(maxlen, what):
    """A one-line display string (a name, an emoji) of at most maxlen characters."""
    return F("str", maxlen=maxlen, what=what)


NODE = dict(pattern=NODE_RE, what="a Nomad node name",
            fix="use the inventory host name, a DNS label: lowercase letters, digits and '-', at most 54 characters")
PEER_ID = dict(pattern=PEER_ID_RE, what="a channel id",
               fix="write the id as the chat service shows it (letters, digits and @ . _ : + -), quoted")
TOKENS = dict(lo=1, hi=MAX_TOKENS, why=" tokens")
RESOURCES = {
    "cpu": F("int", default=2000, lo=MIN_CPU_MHZ, hi=MAX_CPU_MHZ, why=" MHz (a gateway needs at least 500)"),
    "memory": F("int", default=2048, lo=MIN_MEMORY_MB, hi=MAX_MEMORY_MB,
                why=" MiB (a gateway peaks at about 1.3 GB; below that Nomad would OOM-kill it)"),
    "memory_max": F("int", lo=MIN_MEMORY_MB, hi=MAX_MEMORY_MB, why=" MiB (Nomad MemoryMaxMB, at least memory)"),
}
GATEWAY = {
    "name": F("str", required=True, example="main"),
    "node": F("str", required=True, example="jerry", **NODE),
    "port": F("int", default=18789, lo=1024, hi=MAX_PORT - DERIVED_PORT_SPAN,
              why=f" (OpenClaw also uses port+1 .. port+{DERIVED_PORT_SPAN})"),
    "bridge_port": F("int", default=18790, lo=1024, hi=MAX_PORT),
    "runtime": F("str", default=DEFAULT_RUNTIME, choices=RUNTIMES),
    # Required for runtime nomad only (checked in _check_gateways).
    "image": F("str", example='"ghcr.io/openclaw/openclaw:<openclaw_version>"', pattern=IMAGE_RE,
               what="a container image reference", fix="write it as <registry>/<path>:<tag>, lowercase, no spaces"),
    "resources": F("dict", fields=RESOURCES, default={}),
    "hostname": F("str"),
    "system_agent": F("str", pattern=AGENT_ID_RE, what="an agent id", fix="name one of the gateway's agents"),
    "chat_completions": F("bool", default=True),
    "bind": F("str", choices=GATEWAY_BINDS),
    "secrets": F("map", values=F("str", secret=True), default={}),
}
HEARTBEAT = {
    "every": F("str", required=True, example='"30m"'),
    "active_hours": F("dict", fields={"start": F("str", required=True, example='"08:00"'),
                                      "end": F("str", required=True, example='"23:00"'),
                                      "timezone": F("str", pattern=TIMEZONE_RE, what="an IANA time zone",
                                                    fix="write a zone such as Europe/Berlin or UTC")}),
    "prompt": F("str", text=True),
}
AGENT = {
    "id": F("str", required=True, example="jerry"),
    "name": F("str", required=True, example="Jerry", maxlen=64),
    "emoji": _line(16, "an emoji"),
    "gateway": F("str", required=True, example="main"),
    "description": F("str", text=True),
    "model": F("dict", required=True, example="{primary: litellm/<model id>}",
               fields={"primary": F("str", required=True, example="litellm/<model id>"),
                       "fallbacks": _str_list(default=[])}),
    "capabilities": _str_list(default=[]),
    "exec_allow": _str_list(),
    "heartbeat": F("dict", fields=HEARTBEAT),
    "may_message": _str_list(default=[]),
    "may_spawn": _str_list(default=[]),
    "workspace_files": _str_list(default=[]),
}
BINDING = {
    "agent": F("str", required=True, example="jerry"),
    "peer": F("dict", fields={"kind": F("str", required=True, choices=("channel", "direct", "group")),
                              "id": F("str", required=True, example='"C0123456789"', **PEER_ID)}),
    "guild": F("str", **PEER_ID),
    "team": F("str", **PEER_ID),
    "comment": F("str", text=True),
}
CHANNEL = {
    "kind": F("str", required=True, choices=CHANNEL_KINDS),
    "account": F("str", default=DEFAULT_ACCOUNT),
    "gateway": F("str", required=True, example="main"),
    "dm_policy": F("str", default="pairing", choices=DM_POLICIES),
    "allow_from": _str_list(F("str", pattern=ALLOW_FROM_RE, what="a user id, phone number or \"*\"",
                              fix='write a user id or +<phone number> as the chat service shows it, or "*"'),
                            default=[]),
    "group_policy": F("str", default="allowlist", choices=GROUP_POLICIES),
    "groups": _str_list(F("str", **PEER_ID), default=[]),
    "secrets": F("map", values=F("str", secret=True), default={}),
    "bindings": F("list", elements=F("dict", fields=BINDING), default=[]),
}
MODEL = {
    "id": F("str", required=True, example="glm-4.6", pattern=MODEL_ID_RE, what="a model id",
            fix="write the id the provider serves (letters, digits and . _ : / @ + -)"),
    "name": _line(128, "a model name"),
    "context_window": F("int", **TOKENS),
    "max_tokens": F("int", **TOKENS),
    "reasoning": F("bool"),
    "input": F("list", elements=F("str", choices=MODEL_INPUTS)),
}
PROVIDER = {
    "base_url": F("str"),
    "api": F("str", choices=PROVIDER_APIS),
    "api_key": F("str", secret=True),
    "models": F("list", elements=F("dict", fields=MODEL), default=[]),
    # Nodes whose gateways may use this provider (unset: every gateway), e.g. LM Studio on the MacBook.
    "local_to": _str_list(),
}
# Bench thresholds and sizes: a benchmark runs for minutes, not days (an hour is the longest latency).
HOUR_MS = 3600000
BUS_THRESHOLDS = {
    "max_p50_ms": F("num", default=1000, lo=0, hi=HOUR_MS, why=" ms"),
    "max_p99_ms": F("num", default=5000, lo=0, hi=HOUR_MS, why=" ms"),
    "min_delivery_ratio": F("num", default=0.999, lo=0, hi=1, why=" (a ratio: 0.999 is 99.9 %)"),
    "min_throughput": F("num", default=20, lo=0, hi=100000, why=" messages/s"),
    "max_requests_per_message": F("num", default=3.0, lo=0, hi=1000),
}
BUS_BENCH = {
    "messages": F("int", default=1000, lo=1, hi=1000000),
    "rate": F("num", default=200, lo=0.1, hi=100000, why=" messages/s"),
    "senders": F("int", default=4, lo=1, hi=1024),
    "batches": F("list", elements=F("int", lo=1, hi=10000), default=[1, 10, 100]),
    "baseline_messages": F("int", default=100, lo=1, hi=1000000),
    "baseline_window": F("num", default=20, lo=0.1, hi=3600, why=" s"),
    "txn_max_ops": F("int", default=64, choices=(64, 128), lo=64, hi=128),
}
BUS = {
    "enabled": F("bool", default=False),
    "image": F("str", default="localhost/openclaw-bus:0.1.0", pattern=IMAGE_RE, what="a container image reference",
               fix="write it as <registry>/<path>:<tag>, lowercase, no spaces"),
    # The openclaw-bus package version the image and the bench install (the wheel this collection carries).
    "version": F("str", default="0.1.0", pattern=PACKAGE_VERSION_RE, what="a Python package version",
                 fix="write a release version such as 0.1.0 (PEP 440)"),
    "port": F("int", default=8765, lo=1024, hi=MAX_PORT),
    "server_prefix": F("str", default="bus"),
    "replies": F("bool", default=True),
    "resources": F("dict", fields={"cpu": F("int", default=200, lo=50, hi=MAX_CPU_MHZ, why=" MHz"),
                                   "memory": F("int", default=256, lo=64, hi=MAX_MEMORY_MB, why=" MiB")},
                   default={}),
    "thresholds": F("dict", fields=BUS_THRESHOLDS, default={}),
    "bench": F("dict", fields=BUS_BENCH, default={}),
}
# Thresholds of playbooks/health.yml: a check above its threshold is critical and fails the run.
WEEK_S = 7 * 86400
INBOX_THRESHOLDS = {
    "backlog_max": F("int", lo=0, hi=1000000, why=" unacknowledged messages in one inbox"),
    "oldest_unacked_max_seconds": F("num", lo=1, hi=WEEK_S, why=" s (a message lives at most 7 days)"),
    "dead_letters_max": F("int", lo=0, hi=1000000, why=" dead letters kept in one inbox"),
}
HEALTH = {
    "backlog_max": F("int", default=100, lo=0, hi=1000000, why=" unacknowledged messages in one inbox"),
    "oldest_unacked_max_seconds": F("num", default=600, lo=1, hi=WEEK_S, why=" s (a message lives at most 7 days)"),
    "dead_letters_max": F("int", default=0, lo=0, hi=1000000, why=" dead letters kept in one inbox"),
    "healthz_timeout_seconds": F("num", default=5, lo=0.1, hi=60, why=" s"),
    "probe_timeout_seconds": F("num", default=90, lo=1, hi=600, why=" s (one answer of a model)"),
    "probe_prompt": F("str", default="Reply with the single word OK.", maxlen=200, what="a prompt"),
    # Per-inbox overrides, by agent id (a busy automation inbox may carry more backlog).
    "inboxes": F("map", values=F("dict", fields=INBOX_THRESHOLDS), default={}),
}
# The alert watcher: `openclaw-bus watch` in every bus job (roles/bus); the CLI takes a grace of 0..600 s.
ALERTS = {
    "enabled": F("bool", default=False),
    # name -> op:// reference of one Apprise URL (ntfy, Slack, Discord, Gotify, Telegram, e-mail): URLs hold tokens.
    "urls": F("map", values=F("str", secret=True), default={}),
    "grace_seconds": F("num", default=60, lo=0, hi=600,
                       why=" s a check must stay critical before anyone is told (openclaw-bus watch --grace)"),
    "rate_limit": F("int", default=20, lo=1, hi=1000, why=" problem notifications per hour (recoveries always go out)"),
    "resources": F("dict", fields={"cpu": F("int", default=100, lo=50, hi=MAX_CPU_MHZ, why=" MHz"),
                                   "memory": F("int", default=128, lo=64, hi=MAX_MEMORY_MB, why=" MiB")},
                   default={}),
}
# playbooks/backup.yml: one restic repository for the farm. A local path or one of restic's backends
# (sftp:, rest:, s3:, b2:, azure:, gs:, swift:, rclone:); the password is an op:// reference.
RESTIC_REPOSITORY_RE = re.compile(r"/[^\s,]{1,400}|(?:sftp|rest|s3|b2|azure|gs|swift|rclone):[^\s,]{1,400}", re.ASCII)
BACKUP = {
    "repository": F("str", example='"sftp:backup@nas.lan:/srv/restic/openclaw"', pattern=RESTIC_REPOSITORY_RE,
                    what="a restic repository",
                    fix="write an absolute path or <backend>:<location> (sftp:, rest:, s3:, b2:, azure:, gs:, swift:, "
                        "rclone:) without spaces, for example sftp:backup@nas.lan:/srv/restic/openclaw"),
    "password": F("str", secret=True),
    "keep_daily": F("int", default=7, lo=0, hi=3660, why=" daily snapshots kept per gateway"),
    "keep_weekly": F("int", default=4, lo=0, hi=520, why=" weekly snapshots kept per gateway"),
    "keep_monthly": F("int", default=6, lo=0, hi=1200, why=" monthly snapshots kept per gateway"),
    # `restic check` runs when the last one is older than this (0: every backup run).
    "check_every_days": F("int", default=7, lo=0, hi=365, why=" days between two `restic check` runs"),
    # Part of the pack files `restic check --read-data-subset` reads on each check (0: structure only).
    "check_read_data_percent": F("int", default=0, lo=0, hi=100, why=" %"),
}
MODEL_SPEC = {
    "openclaw_version": F("str", required=True, example='"2026.9.6"'),
    "farm_gateways": F("list", required=True, elements=F("dict", fields=GATEWAY)),
    "farm_agents": F("list", required=True, elements=F("dict", fields=AGENT)),
    "farm_channels": F("list", elements=F("dict", fields=CHANNEL), default=[]),
    "farm_model_providers": F("map", values=F("dict", fields=PROVIDER), default={}),
    "farm_secrets": F("map", values=F("str", secret=True), default={}),
    "farm_bus": F("dict", fields=BUS, default={}),
    "farm_health": F("dict", fields=HEALTH, default={}),
    "farm_alerts": F("dict", fields=ALERTS, default={}),
    "farm_backup": F("dict", fields=BACKUP, default={}),
}

KIND_WORDS = {"str": "a string", "int": "a whole number", "num": "a number", "bool": "true or false", "list": "a list",
              "dict": "a mapping", "map": "a mapping"}
KIND_FIX = {
    "str": "quote the value (YAML reads unquoted numbers, true/false and null as other types)",
    "int": "write a whole number without quotes",
    "num": "write a number without quotes",
    "bool": "write true or false",
    "list": "write a YAML list: [a, b] or one '- item' per line",
    "dict": "write a mapping of 'key: value' lines",
    "map": "write a mapping of 'key: value' lines",
}
OP_SHAPE = "op://<vault>/<item>/<field> or op://<vault>/<item>/<section>/<field>"
OP_PART_RE = re.compile(r"[A-Za-z0-9_. -]+", re.ASCII)
OP_QUERY_RE = re.compile(r"(?:attribute=(?:otp|totp|type)|ssh-format=openssh)", re.ASCII)


def _describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number" if math.isfinite(value) else "not a finite number (NaN or infinity)"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date or time"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is(value, kind):
    """Whether value has the kind; a string must be one clean line, a number finite, to count."""
    if kind == "str":
        return isinstance(value, str) and _text_problem(value, False, MAX_TEXT) is None
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value))
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, (list, tuple))
    return isinstance(value, dict)


def _suggest(word, known):
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _join(path, key):
    """path.key, or path['key'] (escaped, shortened) for a key that is not a plain word."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,128}", key, re.ASCII):
        return f"{path}.{key}" if path else key
    return f"{path}[{_show(key)}]"


def _show(value, limit=64):
    """A value as a message may quote it: repr (control characters escaped), at most `limit` long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}


def _text_problem(value, multiline, maxlen):
    """(msg, fix) when a string cannot be used as it is: control characters (tabs and line breaks
    only in free text), surrogates (not encodable as UTF-8), too long. Never quotes the value."""
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            return (f"contains an unpaired surrogate (U+{ord(char):04X}) at position {position}, which cannot be "
                    f"written as UTF-8", "retype the value; it was cut out of an emoji or a UTF-16 text")
        if category == "Cc" and not (multiline and char in "\t\n"):
            name = CONTROL_NAMES.get(char, "a control character")
            return (f"contains {name} (U+{ord(char):04X}) at position {position}",
                    "remove it: write the value on one line, quoted (a YAML block scalar '|' or '>' ends with a "
                    "line break)" if char in "\r\n" else "remove the control character")
    if len(value) > maxlen:
        return f"is {len(value)} characters long, more than {maxlen}", f"shorten it to at most {maxlen} characters"
    return None


def _number_problem(value, spec):
    """(msg, fix) when a number is outside its spec's range."""
    if spec.lo is not None and spec.lo <= value <= spec.hi:
        return None
    default = f" ({spec.default} is the default)" if spec.default is not None else ""
    return (f"{value} is outside {spec.lo}..{spec.hi}{spec.why}",
            f"use a value from {spec.lo} to {spec.hi}{default}")


class Problems:
    """An ordered, duplicate-free list of problems."""

    def __init__(self):
        self.items = []
        self._seen = set()

    def add(self, path, msg, fix):
        key = (path, msg)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append({"path": path, "msg": msg, "fix": fix})


MAX_OP_REFERENCE = 512


def op_shape(value):
    """A malformed op:// value as a message shows it: the length of each part, never its text (a
    secret pasted after op:// must not be echoed)."""
    body, sep, _query = value[len("op://"):].partition("?")
    parts = ["<empty>" if not part else f"<{len(part)} chars>" for part in body.split("/")]
    return "op://" + "/".join(parts) + ("?<query>" if sep else "")


def op_reference_problem(value):
    """Why `value` is not a 1Password secret reference, or None. Never echoes the value: a malformed
    reference is shown by its shape (op_shape)."""
    if not isinstance(value, str):
        return f"must be an op:// reference ({OP_SHAPE}), got {_describe(value)}"
    if not value.startswith("op://"):
        return "is not an op:// reference; secrets must never be written into the model"
    if len(value) > MAX_OP_REFERENCE:
        return f"op:// reference of {len(value)} characters is longer than {MAX_OP_REFERENCE}"
    shape = op_shape(value)
    body, sep, query = value[len("op://"):].partition("?")
    parts = body.split("/")
    if len(parts) not in (3, 4):
        return f"op:// reference {shape} has {len(parts)} path parts; it must be {OP_SHAPE}"
    if not all(parts):
        return f"op:// reference {shape} has an empty vault, item, section or field name"
    names = ("vault", "item", "field") if len(parts) == 3 else ("vault", "item", "section", "field")
    bad = [name for name, part in zip(names, parts, strict=True) if not OP_PART_RE.fullmatch(part)]
    if bad:
        return (f"op:// reference {shape} has unsupported characters in its {bad[0]} name (1Password allows "
                f"letters, digits, spaces, '-', '_' and '.'; use the item or field ID otherwise)")
    if sep and not OP_QUERY_RE.fullmatch(query):
        return (f"op:// reference {shape} has an unsupported query (only ?attribute=otp, ?attribute=totp, "
                f"?attribute=type or ?ssh-format=openssh)")
    return None


def _op_fix(value):
    if isinstance(value, str) and value.startswith("op://"):
        return f"write it as {OP_SHAPE}"
    return ("store the secret in 1Password and write its reference instead, for example "
            "op://Homelab/<item>/<field> (and rotate the secret if it was ever committed)")


def _check_value(value, spec, path, problems):
    """Structural check of one value against its spec; True when the value is usable."""
    if spec.secret:
        problem = op_reference_problem(value)
        if problem:
            problems.add(path, problem, _op_fix(value))
            return False
        return True
    if spec.kind == "str" and isinstance(value, str):
        problem = _text_problem(value, spec.text, spec.maxlen)
        if problem:
            problems.add(path, *problem)
            return False
        if spec.pattern is not None and not spec.pattern.fullmatch(value):
            problems.add(path, f"{_show(value)} is not {spec.what}", spec.fix)
            return False
    elif spec.kind in ("int", "num") and isinstance(value, float) and not math.isfinite(value):
        problems.add(path, f"must be a finite number, got {value}",
                     f"{KIND_FIX[spec.kind]} (YAML reads .nan and .inf as not-a-number and infinity)")
        return False
    elif not _is(value, spec.kind):
        problems.add(path, f"must be {KIND_WORDS[spec.kind]}, got {_describe(value)}", KIND_FIX[spec.kind])
        return False
    elif spec.kind in ("int", "num"):
        problem = _number_problem(value, spec)
        if problem:
            problems.add(path, *problem)
            return False
    ok = True
    if spec.choices is not None and value not in spec.choices:
        problems.add(path, f"{_show(value)} is not one of: {', '.join(map(str, spec.choices))}",
                     f"use one of: {', '.join(map(str, spec.choices))}")
        ok = False
    if spec.kind == "list" and spec.elements is not None:
        for index, item in enumerate(value):
            ok = _check_value(item, spec.elements, f"{path}[{index}]", problems) and ok
    elif spec.kind == "dict":
        ok = _check_fields(value, spec.fields, path, problems) and ok
    elif spec.kind == "map" and spec.values is not None:
        for key, item in value.items():
            if not isinstance(key, str):
                problems.add(path, f"has a key {_show(key)} that is {_describe(key)}, not a string", "quote the key")
                ok = False
                continue
            ok = _check_value(item, spec.values, _join(path, key), problems) and ok
    return ok


def _check_fields(value, fields, path, problems):
    ok = True
    for key in value:
        if key not in fields:
            close = _suggest(key, fields)
            known = ", ".join(sorted(fields))
            fix = (f'did you mean "{close}"? Known keys here: {known}' if close
                   else f"remove it; known keys here: {known}")
            shown = f'"{key}"' if _is(key, "str") and len(key) <= 64 else _show(key)
            problems.add(_join(path, key), f"unknown key {shown}", fix)
            ok = False
    for key, spec in fields.items():
        if value.get(key) is None:  # missing, or an explicit null: "not set"
            if spec.required:
                example = spec.example or f"<{KIND_WORDS[spec.kind]}>"
                problems.add(_join(path, key), "is required", f"add {key}: {example}")
                ok = False
            continue
        ok = _check_value(value[key], spec, _join(path, key), problems) and ok
    return ok


# ------------------------------------------------------------------------------------------------
# Helpers shared by validate() and the filters
# ------------------------------------------------------------------------------------------------

def _get(mapping, key, kind, default=None):
    """mapping[key] when it is set and has the right kind, else default."""
    if not isinstance(mapping, dict):
        return default
    value = mapping.get(key)
    return value if value is not None and _is(value, kind) else default


def _opt(mapping, key, kind, default):
    """mapping[key] with `default` when it is not set (missing or null), None when it has the wrong
    kind (already reported by the structural check)."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if value is None:
        return default
    return value if _is(value, kind) else None


def _entries(model, key):
    """(index, entry) for the mapping entries of a top-level list."""
    items = _get(model, key, "list", [])
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def job_name(gateway_name):
    """The Nomad job ID and Consul service name of a gateway."""
    return f"{JOB_PREFIX}{gateway_name}"


# What every Nomad job of the collection (gateway, bus) is placed by, as API constraints: the named node, and a
# rootless podman as the driver itself fingerprints it (nomad-driver-podman's buildFingerprint publishes
# driver.podman.rootless = "true"/"false"; client meta such as ${meta.rootless} exists only where an operator
# set it, so it is not relied on). The job templates (filter openclaw_placement_constraints) and preflight's
# node check (farm_validate) both read this one definition; each entry's fix says what to change on the node.
PLACEMENT = (
    ("${node.unique.name}", "=", None,
     "start the Nomad client on {node} with name = {node!r} (Nomad's node name), or move the gateway"),
    ("${attr.driver.podman.rootless}", "=", "true",
     "run the podman driver of {node} against the rootless podman socket of the Nomad user (hashi): "
     "plugin \"nomad-driver-podman\" {{ config {{ socket {{ socket_path = \"unix:///run/user/<uid of hashi>/"
     "podman/podman.sock\" }} }} }}, then check that `podman info` as that user says rootless: true"),
)


def placement_constraints(node):
    """The Constraints of a job pinned to `node` (Nomad API JSON)."""
    return [{"LTarget": target, "Operand": operand, "RTarget": node if value is None else value}
            for target, operand, value, _fix in PLACEMENT]


def _node_target(target, node):
    """scheduler/feasible.go resolveTarget against a GET /v1/node/<id> record: (value, found)."""
    if not target.startswith("${"):
        return target, True
    fixed = {"${node.unique.id}": "ID", "${node.datacenter}": "Datacenter", "${node.unique.name}": "Name",
             "${node.class}": "NodeClass", "${node.pool}": "NodePool"}
    if target in fixed:
        return node.get(fixed[target]) or "", True
    for prefix, table in (("${attr.", "Attributes"), ("${meta.", "Meta")):
        if target.startswith(prefix):
            values = node.get(table) or {}
            name = target[len(prefix):].rstrip("}")
            return values.get(name, ""), name in values
    return "", False


def unmet_placement(node_name, node):
    """The placement constraints a Nomad node record does not meet: [(constraint text, what it has, fix)]."""
    unmet = []
    for target, operand, value, fix in PLACEMENT:
        want = node_name if value is None else value
        have, found = _node_target(target, node)
        if operand == "=" and found and have == want:
            continue
        unmet.append((f"{target} {operand} {want}", repr(have) if found else "not set", fix.format(node=node_name)))
    return unmet


def gateway_runtime(gateway):
    """"nomad" or "launchd" (an unset or unusable runtime counts as the default, nomad)."""
    runtime = _get(gateway, "runtime", "str", DEFAULT_RUNTIME)
    return runtime if runtime in RUNTIMES else DEFAULT_RUNTIME


def env_part(text):
    return re.sub(r"[^A-Z0-9]+", "_", str(text).upper()).strip("_")


def provider_key_env(provider):
    """The env var holding a provider's API key: litellm -> LITELLM_API_KEY."""
    return f"{env_part(provider)}_API_KEY"


def channel_secret_env(kind, account, secret):
    """The env var of one channel secret: slack/default/bot_token -> SLACK_BOT_TOKEN,
    slack/ops/bot_token -> SLACK_OPS_BOT_TOKEN (OpenClaw's own fallback names for the default account)."""
    suffix = CHANNEL_SECRET_ENV.get((kind, secret), env_part(secret))
    if account == DEFAULT_ACCOUNT:
        return f"{env_part(kind)}_{suffix}"
    return f"{env_part(kind)}_{env_part(account)}_{suffix}"


def split_model_ref(ref):
    """'litellm/glm-4.6' -> ('litellm', 'glm-4.6'); None when it has no provider part."""
    if not isinstance(ref, str) or "/" not in ref:
        return None
    provider, model = ref.split("/", 1)
    if not provider or not model:
        return None
    return provider, model


def image_tag(image):
    """The tag of an image reference (without digest), or None."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1]


def with_tag(image, tag):
    """An image reference with `tag` when it has none (before a digest): a gateway's image names its repository
    and takes the openclaw_version tag, so the version is written once."""
    if image_tag(image) is not None:
        return image
    name, at, digest = image.partition("@")
    return f"{name}:{tag}{at}{digest}"


def gateway_agents(model, gateway):
    return [agent for _index, agent in _entries(model, "farm_agents") if agent.get("gateway") == gateway]


def used_providers(model, gateway):
    """Names of the providers the agents of a gateway refer to, sorted."""
    names = set()
    for agent in gateway_agents(model, gateway):
        model_spec = _get(agent, "model", "dict", {})
        refs = [model_spec.get("primary")] + list(_get(model_spec, "fallbacks", "list", []))
        for ref in refs:
            parts = split_model_ref(ref)
            if parts:
                names.add(parts[0])
    return sorted(names)


def secret_sources(model, gateway):
    """Every secret a gateway needs: a list of (env name, op:// reference, model path), in a fixed
    order (gateway-wide secrets, providers, channels)."""
    sources = []
    gateways = {_get(g, "name", "str"): (i, g) for i, g in _entries(model, "farm_gateways")}
    index, gw = gateways.get(gateway, (None, {}))
    overrides = _get(gw, "secrets", "dict", {})
    for name, ref in sorted(_get(model, "farm_secrets", "dict", {}).items(), key=lambda item: str(item[0])):
        if name not in overrides:
            sources.append((name, ref, _join("farm_secrets", name)))
    for name, ref in sorted(overrides.items(), key=lambda item: str(item[0])):
        sources.append((name, ref, _join(f"farm_gateways[{index}].secrets", name)))
    providers = _get(model, "farm_model_providers", "dict", {})
    for name in used_providers(model, gateway):
        provider = _get(providers, name, "dict")
        if provider is not None and provider.get("api_key") is not None:
            sources.append((provider_key_env(name), provider["api_key"], f"farm_model_providers.{name}.api_key"))
    for index, channel in _entries(model, "farm_channels"):
        if channel.get("gateway") != gateway:
            continue
        kind = _get(channel, "kind", "str")
        account = _get(channel, "account", "str", DEFAULT_ACCOUNT)
        if kind is None:
            continue
        for secret, ref in sorted(_get(channel, "secrets", "dict", {}).items(), key=lambda item: str(item[0])):
            sources.append((channel_secret_env(kind, account, secret), ref,
                            _join(f"farm_channels[{index}].secrets", secret)))
    return sources


def secret_env(model, gateway):
    """{env var name: op:// reference} for one gateway, sorted by name: what the secrets role
    stores in nomad/jobs/<job> and what the gateway's SecretRefs point at."""
    return {name: ref for name, ref, _path in sorted(secret_sources(model, gateway), key=lambda s: str(s[0]))}


def normalize(model):
    """A copy of a (valid) model with every default filled in. Defaults that depend on the gateway's
    runtime: bind (lan for nomad, loopback for launchd); a launchd gateway gets none of the Nomad-only
    settings (no bridge_port, no resources)."""
    out = _fill(model, F("dict", fields=MODEL_SPEC))
    for gw in (out.get("farm_gateways") or []) if isinstance(out, dict) else []:
        if not isinstance(gw, dict):
            continue
        runtime = gateway_runtime(gw)
        if runtime != "nomad":
            for key in NOMAD_ONLY:
                gw.pop(key, None)
        elif isinstance(gw.get("image"), str) and isinstance(out.get("openclaw_version"), str):
            gw["image"] = with_tag(gw["image"], out["openclaw_version"])
        gw.setdefault("bind", DEFAULT_BIND[runtime])
    return out


def _fill(value, spec):
    if spec.kind == "dict" and isinstance(value, dict):
        out = {}
        for key, field in spec.fields.items():
            if key in value and value[key] is not None:
                out[key] = _fill(value[key], field)
            elif field.default is not None:
                out[key] = _fill(_copy(field.default), field)
        return out
    if spec.kind == "list" and isinstance(value, (list, tuple)) and spec.elements is not None:
        return [_fill(item, spec.elements) for item in value]
    if spec.kind == "map" and isinstance(value, dict) and spec.values is not None:
        return {key: _fill(item, spec.values) for key, item in value.items()}
    return _copy(value)


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def plaintext_secrets(model):
    """The string values at secret positions that are not op:// references (to be masked)."""
    found = []
    _collect_secrets(model, F("dict", fields=MODEL_SPEC), found)
    return sorted(set(found))


def _collect_secrets(value, spec, found):
    if spec.secret:
        if isinstance(value, str) and value and not value.startswith("op://"):
            found.append(value)
        return
    if spec.kind == "dict" and isinstance(value, dict):
        for key, field in spec.fields.items():
            if key in value:
                _collect_secrets(value[key], field, found)
    elif spec.kind == "list" and isinstance(value, (list, tuple)) and spec.elements is not None:
        for item in value:
            _collect_secrets(item, spec.elements, found)
    elif spec.kind == "map" and isinstance(value, dict) and spec.values is not None:
        for item in value.values():
            _collect_secrets(item, spec.values, found)


PLAIN = (str, int, float, bool, type(None))
NOT_PLAIN = (
    ((bytes, bytearray), "is binary data (a !!binary value), not text",
     "write text instead; a secret belongs in 1Password, written here as its op:// reference"),
    ((datetime.date, datetime.time), "is a date or time (YAML reads an unquoted date or timestamp as one), not text",
     "quote the value"),
    ((set, frozenset), "is a set (!!set), not a list", "write a YAML list: [a, b] or one '- item' per line"),
)


def data_problems(value, path=""):
    """Problems of a value that is not plain data (strings, numbers, booleans, null, lists and
    mappings of them): YAML cycles (an alias inside its own anchor), binary values, timestamps, sets,
    other tagged types and nesting deeper than MAX_DEPTH. None of these can be checked, rendered or
    sent to a module, so validate() reports them alone."""
    problems = Problems()
    _walk(value, path, [], problems)
    return problems.items


def _walk(value, path, stack, problems):
    where = path or "(model)"
    if isinstance(value, PLAIN):
        return
    if isinstance(value, (dict, list, tuple)):
        if any(value is outer for outer in stack):
            problems.add(where, "contains itself (a YAML alias inside its own anchor makes a cycle)",
                         "replace the alias (*name) with a copy of the value, or point it at an anchor outside it")
            return
        if len(stack) >= MAX_DEPTH:
            problems.add(where, f"is nested more than {MAX_DEPTH} levels deep", "flatten it; the farm model needs "
                         "no more than six levels")
            return
        stack.append(value)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, PLAIN):
                    problems.add(where, f"has a key that is {_describe(key)}", "write the key as a quoted string")
                    continue
                _walk(item, _join(path, key), stack, problems)
        else:
            for index, item in enumerate(value):
                _walk(item, f"{path}[{index}]", stack, problems)
        stack.pop()
        return
    for types, msg, fix in NOT_PLAIN:
        if isinstance(value, types):
            problems.add(where, msg, fix)
            return
    problems.add(where, f"is a {type(value).__name__}, not plain data (a string, number, true/false, list or "
                 f"mapping)", "remove the YAML tag or the template that produces this value")


def format_problems(problems):
    """One message listing every problem: path, what is wrong, how to fix it."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"The farm model has {len(problems)} {noun}; nothing was changed."]
    for problem in problems:
        path = problem["path"] or "(model)"
        lines.append(f"- {path}: {problem['msg']}. Fix: {problem['fix']}.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# validate()
# ------------------------------------------------------------------------------------------------

def validate(model, inventory_hosts=None, var_names=None):
    """Every problem of the model, in model order. `inventory_hosts`: the hosts a gateway may run on
    (a list, or a mapping group -> hosts); None skips that check. `var_names`: the names of the
    variables the play defines, so a misspelt farm_* variable is reported."""
    problems = Problems()
    if not isinstance(model, dict):
        # farm_bus, farm_health, farm_alerts and farm_backup are optional and left out of this sentence (it
        # names what every model has).
        problems.add("", f"the model must be a mapping of {', '.join(TOP_LEVEL[:-4])}, got {_describe(model)}",
                     "pass the farm variables as one mapping")
        return problems.items
    data = data_problems(model)
    if data:
        return data  # nothing else can be checked in a structure that is not plain data
    _check_var_names(var_names, problems)
    _check_fields(model, MODEL_SPEC, "", problems)
    hosts, where = _host_list(inventory_hosts)
    version = _get(model, "openclaw_version", "str")
    if version is not None and not VERSION_RE.fullmatch(version):
        problems.add("openclaw_version", f"{version!r} is not an OpenClaw release version (YYYY.M.D)",
                     'write the release, for example "2026.9.6", quoted')
        version = None
    gateways = _check_gateways(model, hosts, where, version, problems)
    if not isinstance(model.get("farm_gateways"), (list, tuple)):
        gateways = None  # reported above; references to gateways cannot be checked
    agents = _check_agents(model, gateways, problems)
    if not isinstance(model.get("farm_agents"), (list, tuple)):
        agents = None
    _check_providers(model, hosts, where, problems)
    _check_agent_models(model, problems)
    _check_provider_locality(model, gateways, hosts, problems)
    _check_agent_links(model, gateways, agents, problems)
    _check_channels(model, gateways, agents, problems)
    _check_secrets(model, gateways, problems)
    _check_gateway_roster(model, gateways, agents, problems)
    _check_bus(model, gateways, agents, problems)
    _check_health(model, agents, problems)
    _check_alerts(model, problems)
    return sorted(problems.items, key=lambda problem: _path_key(problem["path"]))


def _path_key(path):
    """Model order: misspelt farm_* variables first (often the cause of what follows), then the
    top-level keys in schema order and list entries by index; a stable sort keeps the order of the
    checks within one entry."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    if head in TOP_LEVEL:
        rank = TOP_LEVEL.index(head)
    else:
        rank = -1 if head.startswith(VAR_PREFIX) else len(TOP_LEVEL)
    index = re.match(r"^[^.\[]*\[(\d+)\]", path)
    return (rank, int(index.group(1)) if index else -1)


def _missing(names, name):
    """True when `names` is known (a dict) and lacks `name`; None means the list itself is broken."""
    return names is not None and name not in names


def _names(names):
    return ", ".join(sorted(names or ())) or "none"


def _host_list(inventory_hosts):
    """(sorted host names, how to name where they come from); (None, None) skips the check."""
    if inventory_hosts is None:
        return None, None
    if isinstance(inventory_hosts, dict):
        hosts = []
        for group in sorted(inventory_hosts, key=str):
            hosts.extend(str(host) for host in inventory_hosts[group] or [])
        return sorted(set(hosts)), f"groups {', '.join(sorted(map(str, inventory_hosts)))}"
    if isinstance(inventory_hosts, str):
        inventory_hosts = [inventory_hosts]
    return sorted({str(host) for host in inventory_hosts}), "hosts"


def _check_var_names(var_names, problems):
    for name in sorted(set(var_names or ())):
        if name.startswith(VAR_PREFIX) and name not in TOP_LEVEL:
            close = _suggest(name, TOP_LEVEL)
            known = ", ".join(TOP_LEVEL)
            fix = f'did you mean "{close}"? The farm variables are {known}' if close else \
                f"rename or remove it; the farm variables are {known}"
            problems.add(name, "unknown farm variable (the farm_ prefix is reserved for the farm model)", fix)


def _check_gateways(model, hosts, where, version, problems):
    """Returns {name: gateway} of the gateways with a usable name."""
    gateways = {}
    by_node = {}
    for index, gw in _entries(model, "farm_gateways"):
        path = f"farm_gateways[{index}]"
        name = _get(gw, "name", "str")
        if name is not None:
            if not GATEWAY_NAME_RE.fullmatch(name):
                problems.add(f"{path}.name",
                             f"{_show(name)} cannot name a Nomad job and Consul service "
                             f"({_show(job_name(name))} must be a DNS label)",
                             "use lowercase letters, digits and '-', starting with a letter and ending with a letter "
                             "or digit, at most 54 characters")
            if name in gateways:
                problems.add(f"{path}.name", f"duplicate gateway name {name!r} (also farm_gateways"
                             f"[{gateways[name][0]}])", "give every gateway its own name")
            else:
                # Known even when invalid: references to it are not reported a second time.
                gateways[name] = (index, gw)
        node = _get(gw, "node", "str")
        node = node if node is not None and NODE_RE.fullmatch(node) else None
        if node is not None and hosts is not None and node not in hosts:
            close = _suggest(node, hosts)
            hint = f'did you mean "{close}"? ' if close else ""
            problems.add(f"{path}.node", f"node {node!r} is not in the inventory ({where}: "
                         f"{', '.join(hosts) or 'none'})",
                         f"{hint}use one of the inventory hosts, or add the host to the inventory")
        runtime = _get(gw, "runtime", "str")
        runtime = runtime if runtime in RUNTIMES else None if runtime is not None else DEFAULT_RUNTIME
        _check_runtime(gw, path, name, runtime, version, problems)
        # Out of range: reported by the structural check (the spec's bounds), left out of the clash check.
        port = _bounded(_opt(gw, "port", "int", GATEWAY["port"].default), GATEWAY["port"])
        bridge = _bounded(_opt(gw, "bridge_port", "int", GATEWAY["bridge_port"].default),
                          GATEWAY["bridge_port"]) if runtime != "launchd" else None
        if port is not None and bridge is not None and port == bridge:
            problems.add(f"{path}.bridge_port", f"bridge_port equals port ({port})",
                         "use a different port for the bridge, by convention port + 1")
        if node is not None and port is not None:
            by_node.setdefault(node, []).append((index, name, port, bridge))
        if runtime == "launchd":
            continue  # its Nomad-only settings are reported by _check_runtime
        _check_image(gw, path, version, problems)
        _check_resources(gw, path, problems)
        hostname = _get(gw, "hostname", "str")
        if hostname is not None and not HOSTNAME_RE.fullmatch(hostname):
            problems.add(f"{path}.hostname", f"{hostname!r} is not a valid DNS host name",
                         "use lowercase letters, digits, '-' and dots, for example openclaw.octant.lan")
    _check_port_clashes(by_node, problems)
    return {name: entry[1] for name, entry in gateways.items()}


def _check_runtime(gw, path, name, runtime, version, problems):
    """What a gateway needs, or must not have, for its runtime (an invalid runtime is reported already)."""
    bind = _get(gw, "bind", "str")
    if runtime == "nomad":
        if gw.get("image") is None:
            problems.add(f"{path}.image", "is required", f"add image: {GATEWAY['image'].example} (or set runtime: "
                         f"launchd for a gateway that runs outside Nomad, on a workstation)")
        if bind is not None and bind != "lan":
            problems.add(f"{path}.bind", f'a Nomad gateway runs in a container and must bind "lan" (with {bind!r} '
                         f"it could not be reached through its port mapping)",
                         "remove bind (Nomad gateways bind lan), or set runtime: launchd")
    elif runtime == "launchd":
        label = repr(name) if name is not None else "this gateway"
        for key, (what, instead) in NOMAD_ONLY.items():
            if gw.get(key) is not None:
                problems.add(f"{path}.{key}", f"{key} {what}, but {label} runs under launchd (runtime: launchd), "
                             f"which {instead.replace('<openclaw_version>', version or '<openclaw_version>')}",
                             f"remove {key}, or set runtime: nomad to run the gateway as a Nomad job")


def _check_image(gw, path, version, problems):
    image = _get(gw, "image", "str")
    if image is None:
        return
    tag = image_tag(image)  # None: the tag is openclaw_version; a tag of its own must name that same release
    if tag is not None and version is not None and tag != version:
        problems.add(f"{path}.image", f"image tag {tag!r} does not match openclaw_version {version!r} (the config, "
                     f"meta.lastTouchedVersion and the channel plugins are rendered for {version})",
                     f"use the tag {version} or change openclaw_version to {tag!r} (a registry digest may follow "
                     f"the tag: :{version}@sha256:...)")


def _bounded(value, spec):
    """value when it is within its spec's range, else None (the structural check reports it)."""
    return value if value is not None and _number_problem(value, spec) is None else None


def _check_resources(gw, path, problems):
    resources = _get(gw, "resources", "dict", {})
    memory = _bounded(_opt(resources, "memory", "int", RESOURCES["memory"].default), RESOURCES["memory"])
    memory_max = _bounded(_get(resources, "memory_max", "int"), RESOURCES["memory_max"])
    if memory_max is not None and memory is not None and memory_max < memory:
        problems.add(f"{path}.resources.memory_max", f"memory_max {memory_max} is below memory {memory}",
                     "raise memory_max to at least memory, or remove it")


def _port_ranges(port, bridge):
    ranges = [(port, port + DERIVED_PORT_SPAN)]
    if bridge is not None and not port <= bridge <= port + DERIVED_PORT_SPAN:
        ranges.append((bridge, bridge))
    return ranges


def _check_port_clashes(by_node, problems):
    for node in sorted(by_node):
        entries = by_node[node]
        for later in range(len(entries)):
            index, name, port, bridge = entries[later]
            for earlier in range(later):
                other_index, other_name, other_port, other_bridge = entries[earlier]
                clash = any(a <= d and c <= b for a, b in _port_ranges(port, bridge)
                            for c, d in _port_ranges(other_port, other_bridge))
                if clash:
                    own = f"{port}..{port + DERIVED_PORT_SPAN}" + (f", bridge {bridge}" if bridge is not None else "")
                    other = f"{other_port}..{other_port + DERIVED_PORT_SPAN}" + (
                        f", bridge {other_bridge}" if other_bridge is not None else "")
                    problems.add(
                        f"farm_gateways[{index}].port",
                        f"ports of gateway {name!r} ({own}) overlap those of gateway {other_name!r} "
                        f"(farm_gateways[{other_index}]: {other}) on node {node!r}",
                        f"space the base ports of gateways on one node at least 120 apart, for example "
                        f"{other_port + 120}")
                    break


def _check_agents(model, gateways, problems):
    """Returns {id: (index, agent)} of the agents with a usable, unique id."""
    agents = {}
    for index, agent in _entries(model, "farm_agents"):
        path = f"farm_agents[{index}]"
        agent_id = _get(agent, "id", "str")
        if agent_id is not None:
            if not AGENT_ID_RE.fullmatch(agent_id):
                problems.add(f"{path}.id", f"{agent_id!r} is not a valid OpenClaw agent id",
                             "use 1-64 lowercase letters, digits, '_' and '-', not starting with '-'")
            if agent_id in agents:
                problems.add(f"{path}.id", f"duplicate agent id {agent_id!r} (also farm_agents[{agents[agent_id][0]}])",
                             "agent ids are unique across the whole farm; rename one of them")
            else:
                agents[agent_id] = (index, agent)
        gateway = _get(agent, "gateway", "str")
        if gateway is not None and _missing(gateways, gateway):
            close = _suggest(gateway, gateways)
            hint = f'did you mean "{close}"? ' if close else ""
            problems.add(f"{path}.gateway", f"unknown gateway {gateway!r} (gateways: {_names(gateways)})",
                         f"{hint}use the name of an entry of farm_gateways, or add that gateway")
        name = _get(agent, "name", "str")
        if name is not None and not name.strip():
            problems.add(f"{path}.name", "is empty", "give the agent a display name")
        for i, capability in enumerate(_get(agent, "capabilities", "list", [])):
            if _is(capability, "str") and not CAPABILITY_RE.fullmatch(capability):
                problems.add(f"{path}.capabilities[{i}]", f"{capability!r} is not a capability name",
                             "use lowercase letters, digits and '-', starting with a letter")
        for i, command in enumerate(_get(agent, "exec_allow", "list", [])):
            if _is(command, "str") and not COMMAND_RE.fullmatch(command):
                problems.add(f"{path}.exec_allow[{i}]", f"{command!r} is not a command name or path",
                             "list bare command names (nomad) or absolute paths (/usr/bin/nomad), no arguments")
        _check_heartbeat(agent, path, problems)
        _check_workspace_files(agent, path, problems)
    return agents


def _check_heartbeat(agent, path, problems):
    heartbeat = _get(agent, "heartbeat", "dict")
    if heartbeat is None:
        return
    every = _get(heartbeat, "every", "str")
    if every is not None and not DURATION_RE.fullmatch(every.lower()):
        problems.add(f"{path}.heartbeat.every", f"{every!r} is not an OpenClaw duration (cron syntax is not "
                     f"supported: OpenClaw schedules heartbeats by interval)",
                     'use an interval such as "30m", "1h" or "1h30m" ("0m" disables it); limit the hours with '
                     'heartbeat.active_hours')
    hours = _get(heartbeat, "active_hours", "dict", {})
    for key in ("start", "end"):
        value = _get(hours, key, "str")
        if value is not None and not CLOCK_RE.fullmatch(value):
            problems.add(f"{path}.heartbeat.active_hours.{key}", f"{value!r} is not a time of day (HH:MM)",
                         'write it as "HH:MM", 00:00 to 24:00, quoted')


def _check_workspace_files(agent, path, problems):
    seen = set()
    for i, name in enumerate(_get(agent, "workspace_files", "list", [])):
        if not isinstance(name, str):
            continue
        where = f"{path}.workspace_files[{i}]"
        if name in RETIRED_WORKSPACE_FILES:
            msg, fix = RETIRED_WORKSPACE_FILES[name]
            problems.add(where, f"{name} {msg}", fix)
        elif name not in WORKSPACE_FILES:
            close = _suggest(name, WORKSPACE_FILES)
            hint = f'did you mean "{close}"? ' if close else ""
            problems.add(where, f"{_show(name)} is not a workspace file OpenClaw reads",
                         f"{hint}use some of: {', '.join(WORKSPACE_FILES)}")
        elif name in seen:
            problems.add(where, f"{name} is listed twice", "list each file once")
        seen.add(name)


def _check_providers(model, hosts, where, problems):
    for name, provider in sorted(_get(model, "farm_model_providers", "dict", {}).items(), key=lambda i: str(i[0])):
        path = _join("farm_model_providers", name)
        if not isinstance(name, str):
            continue
        if not PROVIDER_NAME_RE.fullmatch(name):
            problems.add(path, f"{_show(name)} is not a provider name",
                         "use lowercase letters, digits and '-', starting with a letter (it prefixes model refs: "
                         "<provider>/<model>)")
        if not isinstance(provider, dict):
            continue
        base_url = _get(provider, "base_url", "str")
        if provider.get("base_url") is None and name not in PROVIDERS_WITH_BUILTIN_URL:
            problems.add(f"{path}.base_url", "is required for this provider",
                         "add base_url: http://<host>:<port>/v1 (the OpenAI-compatible endpoint)")
        elif base_url is not None and not URL_RE.fullmatch(base_url):
            problems.add(f"{path}.base_url", f"{base_url!r} is not an http(s) URL",
                         "write it as http://<host>:<port>/v1")
        if provider.get("api_key") is None and name in PROVIDERS_NEEDING_KEY:
            problems.add(f"{path}.api_key", "is required for this provider",
                         "add api_key: op://<vault>/<item>/<field>")
        local_to = _get(provider, "local_to", "list")
        if local_to == []:
            problems.add(f"{path}.local_to", "is empty: no gateway may use this provider",
                         "list the nodes whose gateways can reach base_url, or remove local_to (every gateway may "
                         "use it)")
        for i, node in enumerate(local_to or []):
            if _is(node, "str") and hosts is not None and node not in hosts:
                close = _suggest(node, hosts)
                hint = f'did you mean "{close}"? ' if close else ""
                problems.add(f"{path}.local_to[{i}]", f"node {node!r} is not in the inventory ({where}: "
                             f"{', '.join(hosts) or 'none'})", f"{hint}use one of the inventory hosts")
        models = _opt(provider, "models", "list", [])
        if models == []:
            problems.add(f"{path}.models", "lists no models; agents can only use the models listed here",
                         "add models: [{id: <model id>, name: <display name>}]")
        seen = {}
        for i, entry in enumerate(models or []):
            model_id = _get(entry, "id", "str")
            if model_id is None:
                continue
            if model_id in seen:
                problems.add(f"{path}.models[{i}].id",
                             f"duplicate model id {model_id!r} (also models[{seen[model_id]}])", "list each model once")
            seen.setdefault(model_id, i)


def _offered(model):
    offered = {}
    for name, provider in _get(model, "farm_model_providers", "dict", {}).items():
        ids = [_get(entry, "id", "str") for entry in _get(provider, "models", "list", [])]
        offered[name] = sorted(i for i in ids if i)
    return offered


def _check_agent_models(model, problems):
    offered = _offered(model)
    for index, agent in _entries(model, "farm_agents"):
        spec = _get(agent, "model", "dict")
        if spec is None:
            continue
        refs = [("primary", spec.get("primary"))]
        refs += [(f"fallbacks[{i}]", ref) for i, ref in enumerate(_get(spec, "fallbacks", "list", []))]
        seen = set()
        for where, ref in refs:
            if not _is(ref, "str"):
                continue
            path = f"farm_agents[{index}].model.{where}"
            parts = split_model_ref(ref)
            if parts is None:
                problems.add(path, f"{ref!r} is not a model reference <provider>/<model id>",
                             "write it as <provider>/<model id>, for example litellm/glm-4.6")
                continue
            provider, model_id = parts
            if provider not in offered:
                close = _suggest(provider, offered)
                hint = f'did you mean "{close}/{model_id}"? ' if close else ""
                problems.add(path, f"no provider {provider!r} in farm_model_providers offers {ref!r} (providers: "
                             f"{', '.join(sorted(offered)) or 'none'})",
                             f"{hint}add the provider {provider!r} with this model to farm_model_providers")
            elif model_id not in offered[provider]:
                close = _suggest(model_id, offered[provider])
                hint = f'did you mean "{provider}/{close}"? ' if close else ""
                problems.add(path, f"provider {provider!r} does not offer model {model_id!r} (it offers: "
                             f"{', '.join(offered[provider]) or 'nothing'})",
                             f"{hint}add {{id: {model_id}}} to farm_model_providers.{provider}.models or use a "
                             f"listed model")
            if ref in seen:
                problems.add(path, f"{ref!r} is listed twice among primary and fallbacks", "list each model once")
            seen.add(ref)


def _check_provider_locality(model, gateways, hosts, problems):
    """A provider with local_to (LM Studio on the MacBook: base_url is the laptop's loopback or LAN
    address) may only be used by agents whose gateway runs on one of those nodes."""
    local = {}
    for name, provider in _get(model, "farm_model_providers", "dict", {}).items():
        nodes = _get(provider, "local_to", "list")
        if nodes is not None:
            local[name] = (sorted({n for n in nodes if isinstance(n, str)}), _get(provider, "base_url", "str"))
    if not local or gateways is None:
        return
    for index, agent in _entries(model, "farm_agents"):
        gateway = _get(agent, "gateway", "str")
        node = _get(gateways.get(gateway), "node", "str") if gateway in gateways else None
        spec = _get(agent, "model", "dict")
        if node is None or spec is None or (hosts is not None and node not in hosts):
            continue  # an unknown gateway or node, or a missing model, is reported elsewhere
        refs = [("primary", spec.get("primary"))]
        refs += [(f"fallbacks[{i}]", ref) for i, ref in enumerate(_get(spec, "fallbacks", "list", []))]
        for where, ref in refs:
            parts = split_model_ref(ref)
            if parts is None or parts[0] not in local:
                continue
            provider = parts[0]
            nodes, base_url = local[provider]
            if node in nodes:
                continue
            problems.add(f"farm_agents[{index}].model.{where}",
                         f"{ref!r} is local to {', '.join(nodes) or 'no node'} (farm_model_providers.{provider}."
                         f"local_to), but agent {agent.get('id')!r} runs on gateway {gateway!r} on node {node!r}",
                         f"add {node} to farm_model_providers.{provider}.local_to if the gateway on {node} can "
                         f"reach {base_url or 'its base_url'}, or pick another model")


def _check_agent_links(model, gateways, agents, problems):
    if agents is None:
        return
    for index, agent in _entries(model, "farm_agents"):
        own_id = agent.get("id")
        own_gateway = _get(agent, "gateway", "str")
        for key in ("may_message", "may_spawn"):
            seen = set()
            for i, target in enumerate(_get(agent, key, "list", [])):
                if not _is(target, "str"):
                    continue
                path = f"farm_agents[{index}].{key}[{i}]"
                if target == own_id:
                    problems.add(path, f"agent {own_id!r} names itself",
                                 "remove it: an agent always reaches its own sessions")
                elif target not in agents:
                    close = _suggest(target, agents)
                    hint = f'did you mean "{close}"? ' if close else ""
                    problems.add(path, f"unknown agent {target!r} (agents: {_names(agents)})",
                                 f"{hint}use the id of an entry of farm_agents")
                elif target in seen:
                    problems.add(path, f"{target!r} is listed twice", "list each agent once")
                elif key == "may_spawn" and _other_gateway(gateways, own_gateway,
                                                           _get(agents[target][1], "gateway", "str")):
                    problems.add(path, f"agent {target!r} runs on gateway {agents[target][1].get('gateway')!r}, not "
                                 f"on {own_gateway!r}: sessions_spawn only reaches agents of the same gateway",
                                 "remove it from may_spawn (use may_message: cross-gateway messages go over the bus)")
                seen.add(target)


def _other_gateway(gateways, own, other):
    """True when both gateways exist and differ (an unknown gateway is reported elsewhere)."""
    if gateways is None or not isinstance(own, str) or not isinstance(other, str):
        return False
    return own in gateways and other in gateways and own != other


def _check_channels(model, gateways, agents, problems):
    owners = {}
    for index, channel in _entries(model, "farm_channels"):
        path = f"farm_channels[{index}]"
        kind = _get(channel, "kind", "str")
        kind = kind if kind in CHANNEL_KINDS else None
        account = _opt(channel, "account", "str", DEFAULT_ACCOUNT)
        gateway = _get(channel, "gateway", "str")
        if account is not None and not ACCOUNT_RE.fullmatch(account):
            problems.add(f"{path}.account", f"{account!r} is not a valid account id",
                         "use lowercase letters, digits, '_' and '-' (default: default)")
            account = None
        if gateway is not None and _missing(gateways, gateway):
            close = _suggest(gateway, gateways)
            hint = f'did you mean "{close}"? ' if close else ""
            problems.add(f"{path}.gateway", f"unknown gateway {gateway!r} (gateways: {_names(gateways)})",
                         f"{hint}use the name of an entry of farm_gateways")
            gateway = None
        elif gateways is None:
            gateway = None
        if kind and account:
            key = (kind, account)
            if key in owners:
                other_index, other_gateway = owners[key]
                if other_gateway != gateway:
                    problems.add(f"{path}.gateway", f"{kind} account {account!r} is already owned by gateway "
                                 f"{other_gateway!r} (farm_channels[{other_index}]); one account connects to one "
                                 f"gateway only", "give each gateway its own account, or remove one of the entries")
                else:
                    problems.add(f"{path}.account", f"{kind} account {account!r} is declared twice (also "
                                 f"farm_channels[{other_index}])", "merge the two entries")
            else:
                owners[key] = (index, gateway)
        _check_dm_policy(channel, path, problems)
        if kind:
            _check_channel_secrets(channel, kind, path, problems)
            _check_bindings(channel, kind, gateway, gateways, agents, path, problems)


def _check_dm_policy(channel, path, problems):
    policy = _get(channel, "dm_policy", "str", CHANNEL["dm_policy"].default)
    allow_from = [a for a in _get(channel, "allow_from", "list", []) if _is(a, "str")]
    if policy == "open" and "*" not in allow_from:
        problems.add(f"{path}.allow_from", 'dm_policy "open" needs allow_from ["*"]; without it OpenClaw drops '
                     "every direct message", 'set allow_from: ["*"], or use dm_policy pairing or allowlist')
    elif policy == "allowlist" and not allow_from:
        problems.add(f"{path}.allow_from", 'dm_policy "allowlist" with an empty allow_from admits nobody',
                     "list the user IDs (or phone numbers) that may write, or use dm_policy pairing")
    elif policy == "allowlist" and "*" in allow_from:
        problems.add(f"{path}.allow_from", 'allow_from "*" with dm_policy "allowlist" admits everyone',
                     'use dm_policy "open" to admit everyone, or list the allowed senders')


def _check_channel_secrets(channel, kind, path, problems):
    needed = CHANNEL_SECRETS[kind]
    secrets = _get(channel, "secrets", "dict", {})
    for name in sorted(secrets):
        if name not in needed:
            if not needed:
                problems.add(_join(f"{path}.secrets", name), f"{kind} takes no secrets (it is linked once by QR "
                             f"code; the credentials stay in the gateway's state folder)",
                             "remove secrets from this channel")
            else:
                close = _suggest(name, needed)
                hint = f'did you mean "{close}"? ' if close else "remove it; "
                problems.add(_join(f"{path}.secrets", name), f"unknown {kind} secret {_show(name)}",
                             f"{hint}{kind} takes: {', '.join(needed)}")
    for name in needed:
        if name not in secrets:
            problems.add(f"{path}.secrets.{name}", f"is required for {kind}",
                         f"add secrets.{name}: op://<vault>/<item>/<field>")


def _binding_match(binding):
    peer = _get(binding, "peer", "dict", {})
    parts = (peer.get("kind"), peer.get("id"), binding.get("guild"), binding.get("team"))
    return tuple(part if part is None or isinstance(part, str) else repr(part) for part in parts)


def _check_bindings(channel, kind, gateway, known, agents, path, problems):
    bindings = _opt(channel, "bindings", "list", [])
    if bindings is None:
        return
    if not bindings:
        problems.add(f"{path}.bindings", f"no agent is bound to this {kind} account; a multi-agent gateway drops "
                     f"unbound messages", "add bindings: [{agent: <agent id>}] (account-wide) or bindings with a peer")
        return
    matches = {}
    for i, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            continue
        where = f"{path}.bindings[{i}]"
        agent_id = _get(binding, "agent", "str")
        if agent_id is not None and agents is not None:
            if agent_id not in agents:
                close = _suggest(agent_id, agents)
                hint = f'did you mean "{close}"? ' if close else ""
                problems.add(f"{where}.agent", f"unknown agent {agent_id!r} (agents: {_names(agents)})",
                             f"{hint}use the id of an entry of farm_agents")
            elif _other_gateway(known, gateway, _get(agents[agent_id][1], "gateway", "str")):
                problems.add(f"{where}.agent", f"agent {agent_id!r} runs on gateway "
                             f"{agents[agent_id][1].get('gateway')!r}, but this {kind} account is owned by gateway "
                             f"{gateway!r}; a binding only reaches agents of the owning gateway",
                             "bind an agent of the owning gateway, or move the channel to the agent's gateway")
        peer = _get(binding, "peer", "dict")
        peer_kind = _get(peer, "kind", "str")
        if peer_kind in ("channel", "direct", "group") and peer_kind not in PEER_KINDS[kind]:
            problems.add(f"{where}.peer.kind", f"{kind} has no {peer_kind!r} peers",
                         f"use one of: {', '.join(PEER_KINDS[kind])}")
        if binding.get("guild") is not None and kind != "discord":
            problems.add(f"{where}.guild", f"guild only applies to discord, not {kind}",
                         "remove it (use peer for a channel or group)")
        if binding.get("team") is not None and kind != "slack":
            problems.add(f"{where}.team", f"team only applies to slack, not {kind}",
                         "remove it (use peer for a channel or group)")
        match = _binding_match(binding)
        if match in matches:
            described = "account-wide match" if match == (None, None, None, None) else "match"
            problems.add(where, f"binding with the same {described} as bindings[{matches[match]}]; only one of them "
                         f"can ever win", "remove one, or make one of them more specific (peer, guild or team)")
        else:
            matches[match] = i


def _check_secrets(model, gateways, problems):
    for name in sorted(_get(model, "farm_secrets", "dict", {}), key=str):
        if isinstance(name, str) and not ENV_NAME_RE.fullmatch(name):
            problems.add(_join("farm_secrets", name), f"{_show(name)} is not an environment variable name OpenClaw "
                         f"can refer to",
                         "use uppercase letters, digits and '_', starting with a letter (for example LITELLM_API_KEY)")
    for gateway in sorted(gateways or {}):
        gw = gateways[gateway]
        index = next(i for i, g in _entries(model, "farm_gateways") if g is gw)
        for name in sorted(_get(gw, "secrets", "dict", {}), key=str):
            if isinstance(name, str) and not ENV_NAME_RE.fullmatch(name):
                problems.add(_join(f"farm_gateways[{index}].secrets", name), f"{_show(name)} is not an environment "
                             f"variable name "
                             f"OpenClaw can refer to", "use uppercase letters, digits and '_', starting with a letter")
        sources = {}
        for env, ref, path in secret_sources(model, gateway):
            if env in sources and sources[env][0] != ref:
                problems.add(path, f"environment variable {env} of gateway {gateway!r} would hold two different "
                             f"secrets (also {sources[env][1]})",
                             f"use the same reference in both places, or remove {env} from farm_secrets (it is "
                             f"derived from the provider or channel)")
            sources.setdefault(env, (ref, path))
        if GATEWAY_TOKEN_ENV not in sources:
            problems.add(f"farm_secrets.{GATEWAY_TOKEN_ENV}", f"is missing: gateway {gateway!r} authenticates clients "
                         f"with the token in {GATEWAY_TOKEN_ENV}",
                         f"add {GATEWAY_TOKEN_ENV}: op://<vault>/<item>/<field> to farm_secrets (or to the gateway's "
                         f"secrets)")


def _check_gateway_roster(model, gateways, agents, problems):
    if agents is None:
        return
    for gateway in sorted(gateways or {}):
        gw = gateways[gateway]
        index = next(i for i, g in _entries(model, "farm_gateways") if g is gw)
        roster = [a.get("id") for a in gateway_agents(model, gateway) if isinstance(a.get("id"), str)]
        if not roster:
            problems.add(f"farm_gateways[{index}]", f"gateway {gateway!r} has no agents",
                         "add an agent with gateway: " + gateway + " to farm_agents, or remove the gateway")
        system_agent = _get(gw, "system_agent", "str")
        elsewhere = agents.get(system_agent, (None, {}))[1]
        if system_agent in agents and _get(elsewhere, "gateway", "str") not in gateways:
            continue  # that agent's own gateway is unknown, which is reported already
        if system_agent is not None and system_agent not in roster:
            problems.add(f"farm_gateways[{index}].system_agent", f"{system_agent!r} is not an agent of gateway "
                         f"{gateway!r} (its agents: {', '.join(roster) or 'none'})",
                         "name one of the gateway's agents, or remove system_agent (the first agent is used)")


# ------------------------------------------------------------------------------------------------
# The bus (farm_bus)
# ------------------------------------------------------------------------------------------------

def bus_enabled(model):
    return _get(_get(model, "farm_bus", "dict", {}), "enabled", "bool", False)


def on_bus(gateway):
    """Whether a gateway joins the bus: Nomad gateways do; a launchd gateway (the MacBook's) is
    independent, outside the cluster's bus jobs."""
    return gateway_runtime(gateway) == "nomad"


def bus_members(model):
    """The part of a (normalised) model that is on the bus: its Nomad gateways and their agents."""
    gateways = [gw for gw in model["farm_gateways"] if on_bus(gw)]
    names = {gw["name"] for gw in gateways}
    return dict(model, farm_gateways=gateways, farm_agents=[a for a in model["farm_agents"] if a["gateway"] in names])


def bus_job_name(node):
    """The Nomad job (and Consul service) of the bus process of one node."""
    return f"{BUS_JOB_PREFIX}{node}"


def bus_server_name(model, agent_id):
    """The mcp.servers entry of one agent: <server_prefix>_<agent id with '-' as '_'>."""
    prefix = _get(_get(model, "farm_bus", "dict", {}), "server_prefix", "str", BUS["server_prefix"].default)
    return f"{prefix}_{re.sub(r'[^a-z0-9_]', '_', str(agent_id).lower())}"


def bus_mcp_token_env(agent_id):
    return f"{BUS_MCP_TOKEN_ENV}{env_part(agent_id)}"


def bus_consul_token_env(agent_id):
    return f"{BUS_CONSUL_TOKEN_ENV}{env_part(agent_id)}"


def _check_bus(model, gateways, agents, problems):
    bus = _get(model, "farm_bus", "dict")
    if bus is None:
        return
    image = _get(bus, "image", "str")
    if image is not None and image_tag(image) is None:
        problems.add("farm_bus.image", f"image {image!r} has no tag",
                     "pin it, for example localhost/openclaw-bus:0.1.0")
    prefix = _get(bus, "server_prefix", "str")
    if prefix is not None and not BUS_SERVER_RE.fullmatch(prefix):
        problems.add("farm_bus.server_prefix", f"{prefix!r} cannot prefix an MCP server name",
                     "use lowercase letters, digits and '_', starting with a letter, at most 32 characters")
    if not _get(bus, "enabled", "bool", False):
        return
    # One bus process per node serves the gateway of that node (openclaw-bus serve takes one gateway).
    nodes = {}
    for index, gw in _entries(model, "farm_gateways"):
        node = _get(gw, "node", "str")
        if node is None or not on_bus(gw):
            continue
        if node in nodes:
            problems.add(f"farm_gateways[{index}].node", f"node {node!r} already hosts gateway {nodes[node]!r}; with "
                         f"farm_bus enabled every node runs one bus process for one gateway",
                         "put each gateway on its own node, or set farm_bus.enabled: false")
        else:
            nodes[node] = _get(gw, "name", "str")
    envs = {}
    for index, agent in _entries(model, "farm_agents"):
        agent_id = _get(agent, "id", "str")
        if agent_id is None:
            continue
        env = bus_mcp_token_env(agent_id)
        server = bus_server_name(model, agent_id)
        if env in envs and envs[env] != agent_id:
            problems.add(f"farm_agents[{index}].id", f"agent ids {envs[env]!r} and {agent_id!r} give the same bus "
                         f"credential names ({env}, MCP server {server})",
                         "rename one of them so they differ in more than '-' and '_'")
        envs.setdefault(env, agent_id)
    # A launchd gateway (the MacBook's) is independent: no bus process serves it, so its agents can
    # only talk to the agents of their own gateway.
    off_bus = {_get(gw, "name", "str") for _i, gw in _entries(model, "farm_gateways") if not on_bus(gw)}
    home = {_get(a, "id", "str"): _get(a, "gateway", "str") for _i, a in _entries(model, "farm_agents")}
    for index, agent in _entries(model, "farm_agents"):
        gateway = _get(agent, "gateway", "str")
        for j, peer in enumerate(_get(agent, "may_message", "list", [])):
            other = home.get(peer)
            if other is None or other == gateway or (gateway not in off_bus and other not in off_bus):
                continue
            outside = gateway if gateway in off_bus else other
            problems.add(f"farm_agents[{index}].may_message[{j}]",
                         f"{_get(agent, 'id', 'str')!r} (gateway {gateway!r}) and {peer!r} (gateway {other!r}) could "
                         f"only reach each other over the bus, and gateway {outside!r} runs under launchd, outside it",
                         "remove the peer: a launchd gateway's agents talk only to agents of their own gateway")


def _check_health(model, agents, problems):
    """farm_health.inboxes names agents of the model, each exactly (an override of a misspelt id would
    silently leave the real inbox on the defaults)."""
    inboxes = _get(_get(model, "farm_health", "dict", {}), "inboxes", "dict", {})
    if agents is None:
        return
    for name in inboxes:
        if not isinstance(name, str) or name in agents:
            continue
        close = _suggest(name, agents)
        fix = (f'did you mean "{close}"? ' if close else "") + f"name one of the agents: {_names(agents)}"
        problems.add(_join("farm_health.inboxes", name), f"unknown agent {_show(name)}: an inbox is named by its "
                     "agent's id", fix)


def health_thresholds(model, agent_id):
    """The inbox thresholds of one agent: its farm_health.inboxes entry over the farm-wide ones (normalised model)."""
    health = model.get("farm_health") or {}
    own = (health.get("inboxes") or {}).get(agent_id) or {}
    return {key: own[key] if own.get(key) is not None else health[key] for key in INBOX_THRESHOLDS}


# ------------------------------------------------------------------------------------------------
# The alert watcher (farm_alerts)
# ------------------------------------------------------------------------------------------------

def alerts_enabled(model):
    """Whether the bus jobs run the watcher (it lives in them, so the bus must be on too)."""
    return bus_enabled(model) and _get(_get(model, "farm_alerts", "dict", {}), "enabled", "bool", False)


def watch_variable(node):
    """The watcher task's own Nomad variable (task level: the bus task of the same job cannot read it)."""
    return f"nomad/jobs/{bus_job_name(node)}/bus/{WATCH_TASK}"


def alert_references(model):
    """The op:// references of the Apprise URLs, in name order (names and references only)."""
    urls = _get(_get(model, "farm_alerts", "dict", {}), "urls", "dict", {})
    return [urls[name] for name in sorted(urls, key=str)]


def _check_alerts(model, problems):
    alerts = _get(model, "farm_alerts", "dict")
    if alerts is None:
        return
    for name in sorted(_get(alerts, "urls", "dict", {}), key=str):
        if isinstance(name, str) and not ALERT_NAME_RE.fullmatch(name):
            problems.add(_join("farm_alerts.urls", name), f"{_show(name)} is not an alert URL name",
                         "name it with lowercase letters, digits, '_' and '-', starting with a letter, at most "
                         "32 characters (for example ntfy or owner_slack)")
    if not _get(alerts, "enabled", "bool", False):
        return
    if not bus_enabled(model):
        problems.add("farm_alerts.enabled", "the alert watcher runs in the bus jobs, and farm_bus.enabled is not true",
                     "set farm_bus.enabled: true (phase 3), or farm_alerts.enabled: false")
    if not _get(alerts, "urls", "dict", {}):
        problems.add("farm_alerts.urls", "is empty: an enabled watcher needs at least one Apprise URL to notify",
                     "add <name>: op://<vault>/<item>/<field>, a 1Password field holding an Apprise URL such as "
                     "ntfys://ntfy.sh/<topic>, or set farm_alerts.enabled: false")
