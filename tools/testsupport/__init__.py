# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pytest suites and benchmarks/ share, so neither imports the other and src/ carries
nothing that exists only for them:

- labclient: clients for the Consul/Nomad HTTP APIs and the lab simulator (process, admin API),
  an in-process module runner;
- busfarm: a slice of the lab for the bus (its own key layout, an ACL policy and token per agent);
- reliability: the bus's reliability scenarios (crash, Consul outage, gateway outage), run small
  by tests/bus and at full size by benchmarks/bus_reliability.py;
- standins: an OpenClaw gateway stand-in (the bus relay hands over to it) and a scripted model
  backend (the real gateways of the e2e tests call it);
- watchlab: an Apprise endpoint and `openclaw-bus watch` processes per lab node.

The bus package runs from the checkout's src/ (it is not installed in the venv): importing this
package puts src/ on sys.path."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
