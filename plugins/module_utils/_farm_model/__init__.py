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

The package: schema.py (facts about OpenClaw and the field specs), structure.py (the structural check
and model access helpers), validation.py with check_*.py (the rules), naming.py (derived names), paths.py (every
Nomad job id, Nomad Variable path and Consul KV prefix), placement.py (job constraints) and derived.py (facts
derived from the model: derive() gives all of them at once, prepared() a checked model with its facts).

Pure Python, no I/O: shared by the farm_validate module, the openclaw filters and the tests."""

from __future__ import annotations

from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.derived import (  # noqa: F401
    DERIVED_KEY,
    alert_references,
    alerts_enabled,
    bus_enabled,
    bus_members,
    derive,
    fingerprint,
    gateway_agents,
    gateway_bus_env,
    gateway_channels,
    gateway_facts,
    gateway_plugins,
    health_thresholds,
    node_facts,
    normalize,
    on_bus,
    plaintext_secrets,
    secret_env,
    secret_sources,
    used_providers,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.naming import (  # noqa: F401
    bus_consul_token_env,
    bus_mcp_token_env,
    bus_server_name,
    channel_secret_env,
    env_part,
    gateway_runtime,
    image_tag,
    provider_key_env,
    split_model_ref,
    with_tag,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.paths import (  # noqa: F401
    BUS_JOB_PREFIX,
    BUS_REGISTRY_ROOT,
    BUS_ROOT,
    BUS_TASK,
    DATA_DIR,
    GATEWAY_TASK,
    JOB_PREFIX,
    KV_ROOT,
    LEGACY_GATEWAYS_ROOT,
    VARIABLE_ROOT,
    WATCH_ROOT,
    WATCH_TASK,
    bus_job_name,
    bus_variable,
    gateway_bus_variable,
    gateway_dir,
    gateway_variable,
    job_name,
    job_variable,
    kv_prefixes,
    watch_variable,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.placement import (  # noqa: F401
    PLACEMENT,
    placement_constraints,
    unmet_placement,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.schema import (  # noqa: F401
    ACCOUNT_RE,
    AGENT,
    AGENT_ID_RE,
    ALERT_NAME_RE,
    ALERT_URLS_ENV,
    ALERTS,
    ALLOW_FROM_RE,
    BACKUP,
    BINDING,
    BUS,
    BUS_BENCH,
    BUS_CONSUL_TOKEN_ENV,
    BUS_GATEWAY_CONSUL_TOKEN_ENV,
    BUS_MCP_TOKEN_ENV,
    BUS_SERVER_RE,
    BUS_THRESHOLDS,
    CAPABILITY_RE,
    CHANNEL,
    CHANNEL_KINDS,
    CHANNEL_SECRET_ENV,
    CHANNEL_SECRETS,
    CLOCK_RE,
    COMMAND_RE,
    DEFAULT_ACCOUNT,
    DEFAULT_BIND,
    DEFAULT_RUNTIME,
    DERIVED_PORT_SPAN,
    DM_POLICIES,
    DURATION_RE,
    ENV_NAME_RE,
    GATEWAY,
    GATEWAY_BINDS,
    GATEWAY_NAME_RE,
    GATEWAY_TOKEN_ENV,
    GROUP_POLICIES,
    HEALTH,
    HEARTBEAT,
    HOSTNAME_RE,
    HOUR_MS,
    IMAGE_RE,
    INBOX_THRESHOLDS,
    MAX_CPU_MHZ,
    MAX_DEPTH,
    MAX_LINE,
    MAX_MEMORY_MB,
    MAX_PORT,
    MAX_TEXT,
    MAX_TOKENS,
    MIN_CPU_MHZ,
    MIN_MEMORY_MB,
    MODEL,
    MODEL_ID_RE,
    MODEL_INPUTS,
    MODEL_SPEC,
    NODE_RE,
    NOMAD_MIN_MEMORY_MB,
    NOMAD_ONLY,
    OP_PART_RE,
    OP_QUERY_RE,
    OP_SHAPE,
    PACKAGE_VERSION_RE,
    PEER_ID_RE,
    PEER_KINDS,
    PROVIDER,
    PROVIDER_APIS,
    PROVIDER_NAME_RE,
    PROVIDERS_NEEDING_KEY,
    PROVIDERS_WITH_BUILTIN_URL,
    RESOURCES,
    RESTIC_REPOSITORY_RE,
    RETIRED_WORKSPACE_FILES,
    RUNTIMES,
    TIMEZONE_RE,
    TOP_LEVEL,
    URL_RE,
    VAR_PREFIX,
    VERSION_RE,
    WATCH_CONSUL_TOKEN_ENV,
    WEEK_S,
    WORKSPACE_FILES,
    F,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.structure import (  # noqa: F401
    MAX_OP_REFERENCE,
    Problems,
    data_problems,
    format_problems,
    op_reference_problem,
    op_shape,
)
from ansible_collections.octant.openclaw.plugins.module_utils._farm_model.validation import (  # noqa: F401
    InvalidModel,
    prepared,
    validate,
)
