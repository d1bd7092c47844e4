# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JobWaiter with faked blocking replies: request counts, index handling, failure texts."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._nomad_wait import (
    JobWaiter,
    WaitError,
    deployment_summary,
    expects_deployment,
)
from ansible_collections.octant.openclaw.tests.unit.plugins.nomad_fake import (
    FakeNomad,
    deployment,
    web_job,
)

HEALTHY = {"web": {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 2, "UnhealthyAllocs": 0,
                   "AutoRevert": True}}
UNHEALTHY = {"web": {"DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 0, "UnhealthyAllocs": 2,
                     "AutoRevert": True}}


def waiter(api, timeout=300):
    return JobWaiter(api, "web", "default", timeout=timeout, clock=api.clock)


def test_healthy_deployment_takes_one_lookup_and_blocking_follow_ups():
    api = FakeNomad()
    api.job_deployments = [(deployment("running", index=20), 20)]
    api.deployments = [(deployment("running", index=22), 22),
                       (deployment("successful", "Deployment completed successfully", index=25, groups=HEALTHY), 25)]
    summary = waiter(api).wait_deployment(15)
    assert summary["status"] == "successful"
    assert summary["task_groups"]["web"] == {"desired": 2, "placed": 2, "healthy": 2, "unhealthy": 0,
                                             "auto_revert": True}
    assert api.names() == ["job_deployment", "deployment", "deployment"]
    # The first lookup blocks on the register's JobModifyIndex; each follow-up on the last index.
    assert api.calls[0][1]["index"] == 15
    assert [c[1]["index"] for c in api.calls[1:]] == [20, 22]
    assert all(c[1]["wait"] > 0 for c in api.calls)


def test_an_older_deployment_is_not_mistaken_for_the_new_one():
    api = FakeNomad()
    old = deployment("successful", index=9, spec_index=7, dep_id="old")
    api.job_deployments = [(old, 9), (deployment("successful", index=18), 18)]
    summary = waiter(api).wait_deployment(15)
    assert summary["id"] != "old"
    assert [c[1]["index"] for c in api.calls] == [15, 15]
    assert api.names() == ["job_deployment", "job_deployment"]


def test_deployment_already_finished_needs_no_follow_up():
    api = FakeNomad()
    api.job_deployments = [(deployment("successful", index=18), 18)]
    assert waiter(api).wait_deployment(15)["status"] == "successful"
    assert api.names() == ["job_deployment"]


def test_failed_deployment_reports_counts_and_rollback():
    api = FakeNomad()
    api.jobs["web"] = web_job(Version=3)
    api.job_deployments = [(deployment("running", index=20, version=2), 20)]
    api.deployments = [(deployment("failed", "Failed due to unhealthy allocations - rolling back to job version 1",
                                   index=30, groups=UNHEALTHY, version=2), 30)]
    with pytest.raises(WaitError) as caught:
        waiter(api).wait_deployment(15)
    message = caught.value.message
    assert "failed: Failed due to unhealthy allocations" in message
    assert "web: desired 2, placed 2, healthy 0, unhealthy 2" in message
    assert "Auto-revert rolled the job back to version 1" in message
    assert "now version 3" in message
    assert caught.value.details["rolled_back"] is True
    assert caught.value.details["reverted_to_version"] == 1
    assert caught.value.details["job_version"] == 3
    assert api.names()[-1] == "get_job"


def test_failed_deployment_without_auto_revert_says_so():
    api = FakeNomad()
    api.jobs["web"] = web_job(Version=2)
    groups = {"web": dict(UNHEALTHY["web"], AutoRevert=False)}
    api.job_deployments = [(deployment("failed", "Failed due to progress deadline", index=30, groups=groups), 30)]
    with pytest.raises(WaitError) as caught:
        waiter(api).wait_deployment(15)
    assert "Auto-revert is off: the job stays at the failed version 2" in caught.value.message
    assert caught.value.details["rolled_back"] is False


def test_timeout_reports_last_state():
    api = FakeNomad()
    api.job_deployments = [(deployment("running", index=20), 20)]
    api.deployments = [None]  # the blocking wait runs out with no change
    with pytest.raises(WaitError) as caught:
        waiter(api, timeout=30).wait_deployment(15)
    assert "Timed out after 30 s waiting for deployment d0a1b2c3" in caught.value.message
    assert "last status running (Deployment is running)" in caught.value.message
    assert "web: desired 2, placed 2, healthy 0, unhealthy 0" in caught.value.message
    # One blocking request for the whole remaining time, not a poll per second.
    assert api.names() == ["job_deployment", "deployment"]
    assert api.calls[1][1]["wait"] == 30


def test_timeout_before_any_deployment_appears():
    api = FakeNomad()
    api.job_deployments = [None]
    with pytest.raises(WaitError) as caught:
        waiter(api, timeout=10).wait_deployment(15)
    assert "no deployment of that version appeared" in caught.value.message


def test_manual_promotion_is_reported_not_waited_for():
    api = FakeNomad()
    api.job_deployments = [(deployment("running", "Deployment is running but requires manual promotion",
                                       index=20), 20)]
    with pytest.raises(WaitError) as caught:
        waiter(api).wait_deployment(15)
    assert "manual promotion" in caught.value.message
    assert api.names() == ["job_deployment"]


def test_index_never_below_one_and_kept_when_reply_has_none():
    api = FakeNomad()
    api.job_deployments = [(deployment("running", index=20), 0)]
    api.deployments = [(deployment("running", index=21), 0), (deployment("successful", index=22), 22)]
    waiter(api).wait_deployment(0)
    assert [c[1]["index"] for c in api.calls] == [1, 1, 1]


def test_allocations_wait_until_all_run():
    api = FakeNomad()
    job = web_job(Type="batch", Version=4)
    pending = [{"ID": "a1", "JobVersion": 4, "ClientStatus": "pending", "DesiredStatus": "run"},
               {"ID": "a2", "JobVersion": 4, "ClientStatus": "pending", "DesiredStatus": "run"},
               {"ID": "old", "JobVersion": 3, "ClientStatus": "running", "DesiredStatus": "stop"}]
    done = [dict(pending[0], ClientStatus="complete"), dict(pending[1], ClientStatus="running"), pending[2]]
    api.allocations = [(pending, 40), (done, 41)]
    result = waiter(api).wait_allocations(job)
    assert result == {"version": 4, "allocations": {"complete": 1, "running": 1}}
    assert [c[1]["index"] for c in api.calls] == [0, 40]


def test_allocations_failure_is_reported():
    api = FakeNomad()
    job = web_job(Type="batch", Version=1)
    api.allocations = [([{"ID": "a1b2c3d4e5", "JobVersion": 1, "ClientStatus": "failed", "DesiredStatus": "run",
                          "NodeName": "bobby"}], 7)]
    with pytest.raises(WaitError) as caught:
        waiter(api).wait_allocations(job)
    assert "Allocations of Nomad job 'web' version 1 failed: 1 failed (first failed: a1b2c3d4 on bobby)" \
        in caught.value.message


def test_allocations_of_a_job_scaled_to_zero_are_done_at_once():
    api = FakeNomad()
    job = web_job(Type="batch", Version=2, TaskGroups=[{"Name": "web", "Count": 0, "Tasks": []}])
    api.allocations = [([{"ID": "old", "JobVersion": 1, "ClientStatus": "running", "DesiredStatus": "stop"}], 5)]
    assert waiter(api).wait_allocations(job) == {"version": 2, "allocations": {}}
    assert api.names() == ["job_allocations"]


def test_system_job_needs_at_least_one_allocation():
    api = FakeNomad()
    job = web_job(Type="system", Version=0)
    running = [{"ID": "a", "JobVersion": 0, "ClientStatus": "running", "DesiredStatus": "run"}]
    api.allocations = [([], 3), (running, 4)]
    assert waiter(api).wait_allocations(job)["allocations"] == {"running": 1}
    assert [c[1]["index"] for c in api.calls] == [0, 3]


def test_allocations_timeout():
    api = FakeNomad()
    job = web_job(Type="batch", Version=1)
    api.allocations = [([], 3), None]
    with pytest.raises(WaitError) as caught:
        waiter(api, timeout=5).wait_allocations(job)
    assert "none placed of 2 desired" in caught.value.message


@pytest.mark.parametrize(("job", "expected"), [
    (web_job(), True),
    (web_job(Type="batch"), False),
    (web_job(Type="system"), False),
    (web_job(Stop=True), False),
    (web_job(TaskGroups=[{"Name": "web", "Count": 1, "Tasks": []}]), False),
    (web_job(Update={"MaxParallel": 2}, TaskGroups=[{"Name": "web", "Tasks": []}]), True),
    (web_job(TaskGroups=[{"Name": "web", "Update": {"MaxParallel": 0}, "Tasks": []}]), False),
    (web_job(TaskGroups=[{"Name": "web", "Count": 0, "Update": {"MaxParallel": 1}, "Tasks": []}]), False),
])
def test_expects_deployment(job, expected):
    assert expects_deployment(job) is expected


def test_deployment_summary_of_nothing_is_none():
    assert deployment_summary(None) is None
