"""`tools/labsim`: run the lab simulator in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .clientcheck import MODES, ClientCheckUnavailable
from .lab import Lab


def _address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:8500), got {text!r}")
    return host, int(port)


def _scale(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _meta(text):
    target, _, assignment = text.partition(":") if ":" in text.split("=", 1)[0] else ("", "", text)
    key, sep, value = assignment.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected [NODE:]KEY=VALUE (e.g. jerry:rootless=true), got {text!r}")
    return target, key, value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="labsim",
        description="Lab simulator of the Consul and Nomad HTTP APIs for octant.openclaw tests and "
                    "demos. Admin API for faults and the request log under /_lab/ on every port.")
    parser.add_argument("--consul", type=_address, required=True, metavar="HOST:PORT",
                        help="address of the simulated Consul HTTP API")
    parser.add_argument("--nomad", type=_address, required=True, metavar="HOST:PORT",
                        help="address of the simulated Nomad HTTP API")
    parser.add_argument("--admin", type=_address, metavar="HOST:PORT",
                        help="extra address serving only /_lab/ (reachable while both services are down)")
    parser.add_argument("--nodes", default="jerry,bobby,billy",
                        help="comma-separated node names (Nomad clients and Consul members)")
    parser.add_argument("--acl-bootstrap-token", metavar="TOKEN",
                        help="enable ACL enforcement on Consul and Nomad with TOKEN as management token")
    parser.add_argument("--state", metavar="FILE", help="load state from FILE and save it back on change/exit")
    parser.add_argument("--txn-max-ops", type=int, choices=(64, 128), default=64,
                        help="Consul transaction op limit (64 before 1.14, 128 from 1.14)")
    parser.add_argument("--time-scale", type=_scale, default=1.0, metavar="FACTOR",
                        help="lab seconds per second of a job's own update durations (min_healthy_time, "
                             "healthy_deadline, progress_deadline); 1 = real time, 0.1 = ten times faster")
    parser.add_argument("--node-meta", action="append", type=_meta, default=[], metavar="[NODE:]KEY=VALUE",
                        help="client meta of NODE (of every node without NODE:), as a client's meta block sets "
                             "it; repeatable. Nodes have no other meta than Nomad's own connect.* defaults")
    parser.add_argument("--lenient", action="store_true",
                        help="accept unknown fields in submitted Nomad jobs (default: 400)")
    parser.add_argument("--client-check", choices=MODES, default=os.environ.get("LABSIM_CLIENT_CHECK", "strict"),
                        help="check every job and ACL policy with the engines' own parsers, as a Nomad client and "
                             "Consul would (strict, the default: needs Go and Debian's Go libraries; refuses to "
                             "start without them) or not at all (off); env LABSIM_CLIENT_CHECK")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    if not nodes:
        print("labsim: --nodes needs at least one node name", file=sys.stderr)
        return 2
    node_meta = {}
    for target, key, value in args.node_meta:
        if target and target not in nodes:
            print(f"labsim: --node-meta names {target!r}, not one of --nodes {','.join(nodes)}", file=sys.stderr)
            return 2
        for name in [target] if target else nodes:
            node_meta.setdefault(name, {})[key] = value
    lab = Lab(nodes=nodes, acl_token=args.acl_bootstrap_token, state_file=args.state, node_meta=node_meta,
              config={"txn_max_ops": args.txn_max_ops, "time_scale": args.time_scale, "strict": not args.lenient,
                      "client_check": args.client_check})
    lab.add_listener("consul", *args.consul)
    lab.add_listener("nomad", *args.nomad)
    if args.admin:
        lab.add_listener("admin", *args.admin)
    try:
        lab.start()
    except ClientCheckUnavailable as exc:
        print(f"labsim: refusing to start: the client check (--client-check strict) is unavailable: {exc}\n"
              "(--client-check off runs without it, and without catching what a Nomad client would refuse)",
              file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"labsim: cannot listen: {exc}", file=sys.stderr)
        return 1
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    ports = ", ".join(f"{name}=http://{lis.host}:{lis.port}" for name, lis in lab.listeners.items())
    print(f"labsim ready: {ports} nodes={','.join(nodes)} acl={'on' if args.acl_bootstrap_token else 'off'} "
          f"client-check={args.client_check}",
          flush=True)
    stopped.wait()
    lab.stop()
    return 0
