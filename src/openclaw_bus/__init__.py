# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openclaw-bus: store-and-forward agent-to-agent messaging for OpenClaw over Consul KV, with an
agent registry, an MCP server and a relay into the local gateway. See README.md."""

__version__ = "0.1.0"

from .consul import Consul, ConsulError  # noqa: E402
from .envelope import MAX_MESSAGE_BYTES, BusError, Layout, MessageTooLarge  # noqa: E402
from .mailbox import AgentBus, Inbox, Outbox  # noqa: E402
from .registry import GatewayPresence, RegistryWatcher, read_registry  # noqa: E402

__all__ = ["AgentBus", "BusError", "Consul", "ConsulError", "GatewayPresence", "Inbox", "Layout",
           "MAX_MESSAGE_BYTES", "MessageTooLarge", "Outbox", "RegistryWatcher", "read_registry", "__version__"]
