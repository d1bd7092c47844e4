# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openclaw-bus: serve | watch | send | inbox | policies | bench. Run `openclaw-bus <command> --help`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from . import __version__
from .consul import Consul, ConsulError
from .envelope import TTL_DEFAULT, BusError, Layout


def _common_consul(parser, roots=True):
    parser.add_argument("--consul", default=os.environ.get("CONSUL_HTTP_ADDR", "http://127.0.0.1:8500"),
                        help="Consul HTTP address (default: $CONSUL_HTTP_ADDR or http://127.0.0.1:8500)")
    parser.add_argument("--token-env", default="CONSUL_HTTP_TOKEN", metavar="VAR",
                        help="environment variable holding the Consul token (default: CONSUL_HTTP_TOKEN); "
                             "tokens are never taken on the command line")
    if roots:
        parser.add_argument("--bus-root", default="openclaw/bus", help="KV root of the mailboxes")
        parser.add_argument("--registry-root", default="openclaw/registry", help="KV root of the registry")


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
        return value
    return parse


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"must be from 0 to 600 seconds, got {text!r}")
    return value


def _port(text):
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 0 to 65535, got {text!r}")
    return int(text)


def build_parser():
    parser = argparse.ArgumentParser(prog="openclaw-bus", description=__doc__)
    parser.add_argument("--version", action="version", version=f"openclaw-bus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a node's bus process: MCP server, relay, registry presence")
    serve.add_argument("--config", required=True, help="JSON config file (see openclaw_bus/config.py)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    send = sub.add_parser("send", help="send one message as an agent (with that agent's token)")
    _common_consul(send)
    send.add_argument("--from", dest="sender", required=True, help="sending agent id")
    send.add_argument("--to", required=True, help="recipient agent id")
    send.add_argument("--text", help="message text")
    send.add_argument("--data", help="structured content: a JSON object")
    send.add_argument("--context-id", help="thread id (default: a new thread)")
    send.add_argument("--reply-to", help="messageId this answers")
    send.add_argument("--message-id", help="idempotency key")
    send.add_argument("--ttl", type=int, default=TTL_DEFAULT, help="seconds the message may wait (default 1 day)")
    send.add_argument("--wait-reply", type=_seconds, default=0, metavar="SECONDS", help="wait for the answer")

    inbox = sub.add_parser("inbox", help="read (and optionally ack) an agent's inbox")
    _common_consul(inbox)
    inbox.add_argument("--agent", required=True)
    inbox.add_argument("--wait", type=_seconds, default=0, metavar="SECONDS", help="block up to this long")
    inbox.add_argument("--max", type=_positive(int), default=100)
    inbox.add_argument("--ack", action="store_true", help="acknowledge what is printed")

    pol = sub.add_parser("policies", help="print the Consul ACL policies generated from the farm model")
    pol.add_argument("--model", required=True, help="farm model file (JSON, or YAML when PyYAML is installed)")
    pol.add_argument("--format", choices=["json", "hcl"], default="json")
    pol.add_argument("--no-replies", action="store_true", help="do not let agents answer agents that may "
                                                               "message them unless their may_message lists them")
    pol.add_argument("--bus-root", default="openclaw/bus")
    pol.add_argument("--registry-root", default="openclaw/registry")

    watch = sub.add_parser("watch", help="follow Consul health and notify the owner (one sender per farm)")
    _common_consul(watch, roots=False)
    watch.add_argument("--node", required=True, help="the Consul node this watcher runs on")
    watch.add_argument("--urls-env", default="OPENCLAW_ALERT_URLS", metavar="VAR",
                       help="environment variable holding the Apprise URLs, separated by spaces, commas or "
                            "newlines (default: OPENCLAW_ALERT_URLS); never on the command line")
    watch.add_argument("--grace", type=_seconds, default=60.0, metavar="SECONDS",
                       help="how long a check must stay critical before anyone is told (default 60)")
    watch.add_argument("--rate-limit", type=_positive(int), default=20, metavar="N",
                       help="at most N problem notifications per hour (default 20); recoveries always go out")
    watch.add_argument("--prefix", default="openclaw/watch", help="KV prefix of the lock and the incidents")
    watch.add_argument("--service-prefix", default="openclaw-", help="Consul services watched (gateways; "
                                                                      "openclaw-bus-<node> are the relays)")
    watch.add_argument("--metrics-port", type=_port, default=0, metavar="PORT",
                       help="serve Prometheus metrics at /metrics on this port (default 0: off)")
    watch.add_argument("--metrics-addr", default="0.0.0.0", metavar="ADDR",  # noqa: S104 - in its container
                       help="address of the metrics listener (default 0.0.0.0)")
    watch.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    bench = sub.add_parser("bench", help="measure latency, throughput, delivery and requests per message; go/no-go")
    _common_consul(bench, roots=False)
    bench.add_argument("--prefix", help="KV prefix for the run (default openclaw-bench/<random>; deleted after; "
                                        "the token needs write on it)")
    bench.add_argument("--messages", type=_positive(int), default=1000)
    bench.add_argument("--rate", type=_positive(float), default=200.0, help="messages/s in the latency phase")
    bench.add_argument("--senders", type=_positive(int), default=4, help="concurrent senders in the throughput phase")
    bench.add_argument("--batches", default="1,10,100", help="batch sizes of the economy phase")
    bench.add_argument("--baseline-messages", type=int, default=100,
                       help="messages for the 5 s polling baseline (0: skip it)")
    bench.add_argument("--baseline-window", type=_positive(float), default=20.0, metavar="SECONDS")
    bench.add_argument("--poll-interval", type=_positive(float), default=5.0, metavar="SECONDS")
    bench.add_argument("--txn-max-ops", type=int, default=64, choices=[64, 128])
    bench.add_argument("--lab-admin", help="lab simulator admin URL: cross-check counts with /_lab/requests")
    bench.add_argument("--max-p50-ms", type=float, default=1000.0)
    bench.add_argument("--max-p99-ms", type=float, default=5000.0)
    bench.add_argument("--min-delivery-ratio", type=float, default=0.999)
    bench.add_argument("--min-throughput", type=float, default=20.0, help="messages/s end to end")
    bench.add_argument("--max-requests-per-message", type=float, default=3.0)
    bench.add_argument("--report", help="write the JSON report to this file")
    bench.add_argument("--no-fail", action="store_true", help="exit 0 on no-go")
    return parser


def _consul(args):
    return Consul(args.consul, os.environ.get(args.token_env) or None)


def _layout(args):
    return Layout(args.bus_root, args.registry_root)


def _print(obj):
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def cmd_serve(args):
    from . import config as bus_config
    from .node import Node

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    node = Node(bus_config.load(args.config))
    node.serve()
    return 0


def cmd_watch(args):
    import re
    import signal

    from .watch import AppriseNotifier, Watcher

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    urls = [u for u in re.split(r"[\s,]+", os.environ.get(args.urls_env, "")) if u]
    if not urls:
        raise BusError(f"no notification URL: set {args.urls_env} to one or more Apprise URLs")
    watcher = Watcher(_consul(args), args.node, AppriseNotifier(urls), grace=args.grace,
                      rate_limit=args.rate_limit, prefix=args.prefix, service_prefix=args.service_prefix)
    if args.metrics_port:
        from prometheus_client import start_http_server

        from .metrics import watch_registry

        start_http_server(args.metrics_port, args.metrics_addr, registry=watch_registry(watcher))
    signal.signal(signal.SIGTERM, lambda *_: watcher.stopping.set())  # Nomad stops a task with SIGTERM
    watcher.run()
    return 0


def cmd_send(args):
    from .mailbox import AgentBus

    data = None
    if args.data:
        try:
            data = json.loads(args.data)
        except ValueError as exc:
            raise BusError(f"--data is not JSON: {exc}") from None
    bus = AgentBus(_consul(args), args.sender, layout=_layout(args))
    sent = bus.send(args.to, text=args.text, data=data, context_id=args.context_id, reply_to=args.reply_to,
                    ttl_seconds=args.ttl, message_id=args.message_id)
    out = {"status": "queued", "message_id": sent.message_id, "context_id": sent.context_id, "to": sent.to,
           "seq": sent.seq, "bytes": sent.size}
    if args.wait_reply > 0:
        reply = bus.wait_for_reply(sent, args.wait_reply)
        out["status"] = "replied" if reply else "no_reply_yet"
        out["reply"] = reply.envelope if reply else None
    _print(out)
    return 0


def cmd_inbox(args):
    from .mailbox import AgentBus

    bus = AgentBus(_consul(args), args.agent, layout=_layout(args))
    inbox = bus.inbox()
    batch = inbox.receive(wait=args.wait)
    messages = batch.messages[:args.max]
    out = {"messages": [m.envelope for m in messages], "pending": len(batch.messages),
           "duplicates": len(batch.duplicates), "expired": len(batch.expired), "malformed": len(batch.malformed)}
    if args.ack:
        done, dead = batch.housekeeping()
        result = inbox.ack([*messages, *done], dead, refresh=False)
        out["acked"], out["dead_lettered"] = result.acked, [list(d) for d in result.dead]
    _print(out)
    return 0


def _load_model(path):
    """The farm model file (JSON, or YAML with PyYAML) -> data; BusError naming the file and the problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise BusError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise BusError(f"{path}: nested too deeply") from None
    try:
        import yaml
    except ImportError:
        raise BusError(f"{path} is not JSON (install PyYAML to read YAML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BusError(f"{path}: not valid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise BusError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise BusError(f"{path}: nested too deeply") from None


def cmd_policies(args):
    from .policies import generate

    model = _load_model(args.model)
    try:
        generated = generate(model, Layout(args.bus_root, args.registry_root), replies=not args.no_replies)
    except BusError as exc:
        raise BusError(f"{args.model}: {exc}") from None
    if args.format == "json":
        _print(generated)
    else:
        for kind in ("agents", "gateways", "watchers"):
            for spec in generated[kind].values():
                print(f"# ---- policy {spec['name']}")
                print(spec["rules"])
    return 0


def cmd_bench(args):
    from .bench import Bench, Thresholds

    try:
        batches = tuple(int(b) for b in args.batches.split(",") if b.strip())
    except ValueError:
        raise BusError(f"--batches must be comma-separated integers, got {args.batches!r}") from None
    thresholds = Thresholds(args.max_p50_ms, args.max_p99_ms, args.min_delivery_ratio, args.min_throughput,
                            args.max_requests_per_message)
    bench = Bench(args.consul, os.environ.get(args.token_env) or None, args.lab_admin, args.txn_max_ops,
                  prefix=args.prefix, log=lambda line: print(line, file=sys.stderr, flush=True))
    report = bench.run(thresholds, args.messages, args.rate, args.senders, batches, args.baseline_messages,
                       args.baseline_window, args.poll_interval)
    text = json.dumps(report, indent=2)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    print(f"openclaw-bus bench: {'GO' if report['go'] else 'NO-GO'}", file=sys.stderr)
    return 0 if report["go"] or args.no_fail else 1


COMMANDS = {"serve": cmd_serve, "watch": cmd_watch, "send": cmd_send, "inbox": cmd_inbox, "policies": cmd_policies,
            "bench": cmd_bench}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (BusError, ConsulError, ValueError, OSError) as exc:
        print(f"openclaw-bus {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 2
    except KeyboardInterrupt:
        return 130
