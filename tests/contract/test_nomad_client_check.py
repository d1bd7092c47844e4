"""Contract: what a Nomad client (podman driver, consul-template, go-envparse) and Consul's ACL parser
refuse, after the servers accepted it. The simulator runs the engines' own parsers
(tools/nomad_client_check): a refused job's allocation fails with the client's error text, a plan
carries the findings as Warnings (a lab feature), a refused ACL policy is refused as Consul does."""

import os
import subprocess
import sys
import uuid

import pytest

from tests.contract.test_nomad_helpers import (
    deployment_of,
    fast_deployments,
    make_job,
    ready_node,
    register,
    wait_for,
)
from tools.testsupport.labclient import LABSIM

ESCAPE_HINT = 'escape it by starting with "$${" instead of just "${"'


@pytest.fixture(autouse=True)
def _fast(cluster):
    yield from fast_deployments(cluster)


@pytest.fixture
def node(nomad):
    return ready_node(nomad)


@pytest.fixture
def job_id(nomad):
    name = f"octant-clientcheck-{uuid.uuid4().hex[:8]}"
    yield name
    nomad.delete(f"/v1/job/{name}", params={"purge": "true"})


def shell_job(job_id, node, script):
    job = make_job(job_id, node)
    task = job["TaskGroups"][0]["Tasks"][0]
    task["Config"].update(command="/bin/sh", args=["-c", script])
    return job


def task_of(job):
    return job["TaskGroups"][0]["Tasks"][0]


def plan_warnings(nomad, job):
    response = nomad.post(f"/v1/job/{job['ID']}/plan", json={"Job": job, "Diff": True})
    assert response.status_code == 200, response.text
    return response.json()["Warnings"]


def failed_alloc(nomad, job_id):
    return wait_for(lambda: next((a for a in nomad.get(f"/v1/job/{job_id}/allocations").json()
                                  if a["ClientStatus"] == "failed"), None), what=f"a failed allocation of {job_id}")


def events(alloc, task="main"):
    return [(e["Type"], e["DisplayMessage"]) for e in alloc["TaskStates"][task]["Events"]]


# -- driver config: decoded by HCL as the client does ----------------------------------------------
def test_a_bare_shell_default_in_a_driver_string_fails_validation_on_the_client(nomad, node, job_id):
    """`${x:-y}` is an HCL template on the client: the task fails validation, is not restarted, and the
    deployment fails. The servers accept the job."""
    register(nomad, shell_job(job_id, node, 'echo "${NAME:-none}"'))
    alloc = failed_alloc(nomad, job_id)
    validation = [msg for kind, msg in events(alloc) if kind == "Failed Validation"]
    assert len(validation) == 1, events(alloc)
    assert "failed to parse config" in validation[0]
    assert "Extra characters after interpolation expression" in validation[0]
    assert ESCAPE_HINT in validation[0]
    assert ("Not Restarting", "Error was unrecoverable") in events(alloc)
    assert alloc["TaskStates"]["main"]["Failed"] is True
    deployment = deployment_of(nomad, job_id, 0, status="failed")
    assert deployment["StatusDescription"].startswith("Failed due to unhealthy allocations")


def test_escaped_shell_syntax_and_nomad_variables_decode_and_run(nomad, node, job_id):
    """$${ is a literal ${ for HCL; ${NOMAD_TASK_DIR}, ${node.unique.name} and ${env["NOMAD_TASK_NAME"]}
    are the client's interpolation variables."""
    script = 'echo "$${NAME:-none}" ${NOMAD_TASK_DIR} ${node.unique.name} ${env["NOMAD_TASK_NAME"]}; sleep 3600'
    register(nomad, shell_job(job_id, node, script))
    deployment = deployment_of(nomad, job_id, 0, status="successful")
    assert deployment["TaskGroups"]["app"]["HealthyAllocs"] == 1


@pytest.mark.simulator_only
def test_the_plan_warns_of_a_bare_shell_default(nomad, node, job_id):
    warnings = plan_warnings(nomad, shell_job(job_id, node, "cd ${NOMAD_TASK_DIR:-/tmp}"))
    assert "TaskGroups[app].Tasks[main].Config: 2 errors occurred:" in warnings
    assert ESCAPE_HINT in warnings


@pytest.mark.simulator_only
def test_a_misspelled_podman_option_is_refused(nomad, node, job_id):
    job = make_job(job_id, node)
    task_of(job)["Config"]["volume"] = ["/srv:/srv"]
    warnings = plan_warnings(nomad, job)
    assert 'Invalid label: No argument or block type is named "volume".' in warnings


@pytest.mark.simulator_only
def test_a_podman_option_of_the_wrong_type_is_refused(nomad, node, job_id):
    job = make_job(job_id, node)
    task_of(job)["Config"]["ports"] = "http"
    warnings = plan_warnings(nomad, job)
    assert 'Inappropriate value for attribute "ports": list of string required.' in warnings


@pytest.mark.simulator_only
def test_the_image_is_required_by_the_podman_driver(nomad, node, job_id):
    job = make_job(job_id, node)
    del task_of(job)["Config"]["image"]
    assert 'Missing required argument: The argument "image" is required' in plan_warnings(nomad, job)


# -- templates: parsed and rendered as consul-template does ----------------------------------------
SECRETS_TMPL = '[[ with nomadVar "nomad/jobs/{job}" ]]\nTOKEN=[[ .TOKEN.Value | toJSON ]]\n[[ end ]]\n'
SERVICE_TMPL = '[[ range service "db" ]]DB_ADDR="[[ .Address ]]:[[ .Port ]]"\n[[ end ]]'


def with_template(job, contents, envvars=True, dest="secrets/app.env"):
    task_of(job)["Templates"] = [{"DestPath": dest, "Envvars": envvars, "ChangeMode": "restart",
                                  "ErrMissingKey": True, "LeftDelim": "[[", "RightDelim": "]]",
                                  "EmbeddedTmpl": contents}]
    return job


@pytest.mark.simulator_only
def test_a_template_calling_consul_without_a_consul_block_is_refused(nomad, node, job_id):
    warnings = plan_warnings(nomad, with_template(make_job(job_id, node), SERVICE_TMPL))
    assert "TaskGroups[app].Tasks[main].Templates[0].EmbeddedTmpl: template calls Consul (service)" in warnings
    assert 'neither task "main" nor group "app" has a consul block' in warnings


@pytest.mark.simulator_only
@pytest.mark.parametrize("where", ["task", "group"])
def test_a_consul_block_on_the_task_or_its_group_gives_the_template_consul(nomad, node, job_id, where):
    job = with_template(make_job(job_id, node), SERVICE_TMPL)
    (task_of(job) if where == "task" else job["TaskGroups"][0])["Consul"] = {"Cluster": "default"}
    assert plan_warnings(nomad, job) == ""


@pytest.mark.simulator_only
def test_an_env_template_that_renders_an_unparseable_line_fails_the_allocation(nomad, node, job_id):
    """A line without '=' is refused by go-envparse whatever the values: the task is killed."""
    contents = f'[[ with nomadVar "nomad/jobs/{job_id}" ]]\nTOKEN [[ .TOKEN.Value | toJSON ]]\n[[ end ]]\n'
    job = with_template(make_job(job_id, node), contents)
    error = ('Template failed to read environment variables: error parsing env template "secrets/app.env": '
             "error on line 2: missing =")
    assert error in plan_warnings(nomad, job)
    register(nomad, job)
    assert ("Killing", error) in events(failed_alloc(nomad, job_id))


@pytest.mark.simulator_only
def test_a_secret_rendered_without_quoting_is_a_warning(nomad, node, job_id):
    """Without toJSON a value with a quote or a newline breaks the env file: warned on plan; the
    allocation still runs (plain values parse)."""
    contents = f'[[ with nomadVar "nomad/jobs/{job_id}" ]]\nTOKEN=[[ .TOKEN.Value ]]\n[[ end ]]\n'
    job = with_template(make_job(job_id, node), contents)
    warnings = plan_warnings(nomad, job)
    assert "with a value holding a quote, a backslash or a newline (quote it with toJSON): " in warnings
    assert 'error parsing env template "secrets/app.env": error on line' in warnings
    register(nomad, job)
    deployment_of(nomad, job_id, 0, status="successful")


@pytest.mark.simulator_only
def test_a_template_calling_an_unknown_function_is_refused(nomad, node, job_id):
    job = with_template(make_job(job_id, node), '[[ nomadVariable "x" ]]', envvars=False, dest="local/x")
    assert 'Template failed: (dynamic): parse: template: :1: function "nomadVariable" not defined' \
        in plan_warnings(nomad, job)


@pytest.mark.simulator_only
def test_template_delimiters_are_the_jobs_own(nomad, node, job_id):
    """With [[ ]] delimiters, {{ }} is text (the bus config embeds JSON); `[[` in the text is not."""
    job = with_template(make_job(job_id, node), '{"a": "{{ not a template }}"}', envvars=False, dest="local/a.json")
    assert plan_warnings(nomad, job) == ""
    task_of(job)["Templates"][0]["EmbeddedTmpl"] = '{"a": "[[ not closed"}'
    assert "Template failed: (dynamic): parse: template: :1:" in plan_warnings(nomad, job)


@pytest.mark.simulator_only
def test_a_correct_job_has_no_findings_and_deploys(nomad, node, job_id):
    """Escaped shell syntax, a Consul block for the service lookup, secrets through toJSON."""
    job = shell_job(job_id, node, 'test -n "$${TOKEN:-}" && exec sleep 3600')
    with_template(job, SECRETS_TMPL.format(job=job_id) + SERVICE_TMPL)
    task_of(job)["Consul"] = {"Cluster": "default"}
    assert plan_warnings(nomad, job) == ""
    register(nomad, job)
    deployment_of(nomad, job_id, 0, status="successful")


# -- Consul ACL rules: HCL1 into Consul's rule shape ------------------------------------------------
@pytest.mark.acl
@pytest.mark.parametrize(("rules", "error"), [
    ('key_prefix "app/" { policy = "wrte" }', "Invalid key_prefix policy: "),
    ('session "jerry" { policy = "list" }', "Invalid session policy: "),
    ('operator = "admin"', 'Invalid operator policy: "admin"'),
    ('key_prefix "app/" { policy = "write" ', "Failed to parse ACL rules: "),
])
def test_an_invalid_acl_rule_is_refused(acl_consul, rules, error):
    response = acl_consul.put("/v1/acl/policy", json={"Name": f"octant-contract-{uuid.uuid4().hex[:10]}",
                                                      "Rules": rules})
    assert response.status_code == 500, response.text
    assert error in response.text


@pytest.mark.acl
def test_list_is_a_key_policy_only(acl_consul):
    name = f"octant-contract-{uuid.uuid4().hex[:10]}"
    created = acl_consul.put("/v1/acl/policy", json={"Name": name, "Rules": 'key_prefix "a/" { policy = "list" }'})
    assert created.status_code == 200, created.text
    acl_consul.delete(f"/v1/acl/policy/{created.json()['ID']}")


# -- the simulator never skips the check silently --------------------------------------------------
@pytest.mark.simulator_only
def test_the_strict_simulator_refuses_to_start_without_go(tmp_path):
    env = dict(os.environ, LABSIM_GO=str(tmp_path / "no-go"), LABSIM_CACHE=str(tmp_path / "cache"),
               LABSIM_CLIENT_CHECK="strict", LABSIM_PYTHON=sys.executable)
    result = subprocess.run([str(LABSIM), "--consul", "127.0.0.1:0", "--nomad", "127.0.0.1:0"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "labsim ready" not in result.stdout
    assert "refusing to start: the client check (--client-check strict) is unavailable" in result.stderr
    assert "apt-get install -y golang-go golang-github-hashicorp-hcl-v2-dev" in result.stderr
