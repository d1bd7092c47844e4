# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Nomad jobs the gateway and bus roles render (their templates, rendered by Ansible's own templar with the
roles' defaults and vars over inventory/lab), checked for what only a Nomad client would notice after placement:
driver config decoded as HCL templates, the podman driver's entrypoint, Consul access of templates, the
placement constraints preflight checks, and text inside consul-template delimiters."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.octant.openclaw.plugins.filter.openclaw import (
    openclaw_bus_agents,
    openclaw_bus_serve_config,
)
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "gateway" / "files" / "install-plugins.sh"
# Text an agent's description may hold: both delimiter pairs consul-template knows, and HCL's template openers.
TRICKY = 'Routes [[tickets]] and {{ alerts }} ]] [[- x ]] [[/* c */]] ${HOME} %{ if } "quoted" \\ done'


def render(role, template, template_vars, model):
    """`lookup('ansible.builtin.template', ...) | from_yaml` as the role's deploy.yml does it."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template
    from ansible.utils.collection_loader import AnsibleCollectionConfig
    from ansible.vars.manager import VariableManager

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader([str(ROOT / "collections")])
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(ROOT / "inventory" / "lab")])
    host = inventory.get_host("jerry")
    base = ROOT / "roles" / role
    variables = dict(loader.load_from_file(str(base / "defaults" / "main.yml"), trusted_as_template=True))
    variables.update(VariableManager(loader=loader, inventory=inventory).get_vars(host=host))
    variables.update(loader.load_from_file(str(base / "vars" / "main.yml"), trusted_as_template=True))
    variables.update(template_vars, openclaw_farm=model, ansible_search_path=[str(base)])
    text = (base / "templates" / template).read_text()
    return yaml.safe_load(Templar(loader=loader, variables=variables).template(trust_as_template(text)))


@pytest.fixture(scope="module")
def model():
    from tests.integration.test_openclaw_config import inventory_farm

    farm = fm.normalize(inventory_farm("lab"))
    farm["farm_bus"] = dict(farm.get("farm_bus") or {}, enabled=True)
    return fm.normalize(farm)


def gateway_job(model):
    gw = model["farm_gateways"][0]
    return render("gateway", "nomad-job.yml.j2",
                  {"gw": gw, "host_dir": f"/opt/homelab/data/openclaw/{gw['name']}", "secret_keys": ["A_KEY"],
                   "plugins": ["discord", "slack"], "bus_keys": ["BUS_MCP_TOKEN_JERRY"]}, model)


def bus_job(model):
    gw = model["farm_gateways"][0]
    agents = [a for a in openclaw_bus_agents(model) if a["gateway"] == gw["name"]]
    return render("bus", "bus-job.yml.j2",
                  {"gw": gw, "agents": agents,
                   "serve_config": openclaw_bus_serve_config(model, gw["name"], "http://consul.service.consul:8500")},
                  model)


# -- HCL, as the Nomad client decodes driver config (hclsyntax template literals) ----------------------------------
def hcl_template_sequences(text):
    """Where HCL would start an interpolation or a directive: `${` / `%{` not written `$${` / `%%{`."""
    found, i = [], 0
    while i < len(text) - 1:
        if text[i] in "$%" and text[i + 1] == text[i] and text[i + 2:i + 3] == "{":
            i += 3  # the escape of a literal ${ or %{
        elif text[i] in "$%" and text[i + 1] == "{":
            found.append(text[max(0, i - 20):i + 30])
            i += 2
        else:
            i += 1
    return found


def hcl_unescape(text):
    """What the client's HCL decoding gives back for a string without template sequences."""
    return text.replace("$${", "${").replace("%%{", "%{")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def all_tasks(job):
    return [task for group in job["TaskGroups"] for task in group["Tasks"]]


def test_no_driver_config_string_starts_an_hcl_template(model):
    for job in (gateway_job(model), bus_job(model)):
        for task in all_tasks(job):
            for text in strings(task["Config"]):
                assert hcl_template_sequences(text) == [], f"{job['ID']}/{task['Name']}: unescaped HCL template"


def test_the_prestart_script_survives_hcl_decoding_byte_for_byte(model):
    plugins = next(t for t in all_tasks(gateway_job(model)) if t["Name"] == "plugins")
    (script,) = plugins["Config"]["args"]
    assert "${OPENCLAW_PLUGINS:?" in SCRIPT.read_text(), "the check needs the script's shell expansions"
    assert hcl_unescape(script) == SCRIPT.read_text()


def test_the_prestart_task_replaces_the_image_entrypoint(model):
    plugins = next(t for t in all_tasks(gateway_job(model)) if t["Name"] == "plugins")
    # nomad-driver-podman: command + args go behind the image's ENTRYPOINT; entrypoint (a list) replaces it.
    assert plugins["Config"]["entrypoint"] == ["/bin/sh", "-c"]
    assert "command" not in plugins["Config"]


def test_the_new_image_validates_the_config_before_the_gateway_starts(model):
    """The prestart task `validate` runs the job's own image's `openclaw config validate --json` on the config the
    gateway will read (read-only mounts), and fails the allocation at once when it rejects it."""
    tasks = {t["Name"]: t for t in all_tasks(gateway_job(model))}
    validate, gateway = tasks["validate"], tasks["gateway"]
    assert validate["Lifecycle"] == {"Hook": "prestart", "Sidecar": False}
    assert validate["Config"]["image"] == gateway["Config"]["image"]
    assert (validate["Config"]["entrypoint"], validate["Config"]["args"]) == (
        ["node"], ["dist/index.js", "config", "validate", "--json"])
    assert validate["Config"]["volumes"] == [v + ":ro" for v in gateway["Config"]["volumes"][:2]]
    assert validate["Env"]["OPENCLAW_CONFIG_PATH"] == gateway["Env"]["OPENCLAW_CONFIG_PATH"]
    assert validate["Env"]["OPENCLAW_STATE_DIR"] == gateway["Env"]["OPENCLAW_STATE_DIR"]
    assert (validate["RestartPolicy"]["Attempts"], validate["RestartPolicy"]["Mode"]) == (0, "fail")
    assert "Templates" not in validate, "the validator needs no secret"


def test_both_jobs_are_placed_by_the_shared_definition(model):
    for job in (gateway_job(model), bus_job(model)):
        assert job["Constraints"] == fm.placement_constraints("jerry")
        targets = [c["LTarget"] for c in job["Constraints"]]
        assert "${attr.driver.podman.rootless}" in targets
        assert not [t for t in targets if t.startswith("${meta.")], "client meta exists only where an operator set it"


CONSUL_FUNCTIONS = ("service", "services", "key", "keyOrDefault", "ls", "tree", "connect", "safeLs", "safeTree")


def test_a_task_whose_template_calls_consul_has_a_consul_block(model):
    for job in (gateway_job(model), bus_job(model)):
        for group in job["TaskGroups"]:
            for task in group["Tasks"]:
                calls = [t for t in task.get("Templates") or []
                         if any(f"{t['LeftDelim']} {name} " in t["EmbeddedTmpl"] or f" {name} \"" in t["EmbeddedTmpl"]
                                for name in CONSUL_FUNCTIONS)]
                if calls:
                    assert (task.get("Consul") or group.get("Consul")) is not None, \
                        f"{job['ID']}/{task['Name']} renders Consul data without a Consul block (no Consul token)"
    bus = all_tasks(bus_job(model))[0]
    assert bus["Consul"] == {"Cluster": "default"}


# Go's text/template (what consul-template executes) with the template's delimiters and no data.
GO_RENDER = """package main

import (
	"io"
	"os"
	"text/template"
)

func main() {
	b, _ := io.ReadAll(os.Stdin)
	t := template.Must(template.New("t").Delims(os.Args[1], os.Args[2]).Parse(string(b)))
	if err := t.Execute(os.Stdout, nil); err != nil {
		panic(err)
	}
}
"""


def test_the_bus_config_template_gives_back_the_json_with_delimiters_in_model_text(model, tmp_path):
    tricky = copy.deepcopy(model)
    for agent in tricky["farm_agents"]:
        agent["description"] = TRICKY
    assert fm.validate(tricky) == []
    job = bus_job(tricky)
    config_tmpl = next(t for t in all_tasks(job)[0]["Templates"] if t["DestPath"] == "local/bus.json")
    expected = json.dumps(openclaw_bus_serve_config(tricky, "main", "http://consul.service.consul:8500"),
                          sort_keys=True)
    assert TRICKY in json.loads(expected)["agents"][0]["description"]
    text = config_tmpl["EmbeddedTmpl"]
    left, right = config_tmpl["LeftDelim"], config_tmpl["RightDelim"]
    # Every `[[` left in the template opens the action that prints a literal `[[`.
    literal = f'{left} "{left}" {right}'
    assert left not in text.replace(literal, ""), "a bare left delimiter would start an action"
    assert json.loads(text.replace(literal, left)) == json.loads(expected)
    go = shutil.which("go")
    if go is None:
        return  # the structural check above stands alone where Go is not installed
    (tmp_path / "main.go").write_text(GO_RENDER)
    (tmp_path / "go.mod").write_text("module render\n\ngo 1.19\n")
    built = subprocess.run([go, "build", "-o", str(tmp_path / "render"), "."], cwd=tmp_path, capture_output=True,
                           text=True, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                        "GOCACHE": str(tmp_path / "cache"), "GOFLAGS": "-mod=mod",
                                                        "GOPROXY": "off"})
    assert built.returncode == 0, built.stderr
    rendered = subprocess.run([str(tmp_path / "render"), left, right], input=text, capture_output=True, text=True,
                              check=False)
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout) == json.loads(expected)
