# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema of the farm model: facts about OpenClaw 2026.9.6, field specs (F) and their limits."""

from __future__ import annotations

import re

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
# The bus (src/openclaw_bus): the names of its MCP servers and the env names of its credentials (its KV roots and
# job names: paths.py).
BUS_SERVER_RE = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
BUS_MCP_TOKEN_ENV = "BUS_MCP_TOKEN_"
BUS_CONSUL_TOKEN_ENV = "BUS_CONSUL_TOKEN_"
BUS_GATEWAY_CONSUL_TOKEN_ENV = "BUS_GATEWAY_CONSUL_TOKEN"
# The alert watcher (`openclaw-bus watch`): the items of its task-level Nomad variable (the bus task cannot read
# them): its Consul token and the Apprise URLs, space-separated.
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
