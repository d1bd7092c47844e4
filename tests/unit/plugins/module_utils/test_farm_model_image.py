# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openclaw_version written once: a gateway image that names only its repository takes the openclaw_version
tag; an image with a tag of its own overrides it and is still checked against openclaw_version."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.octant.openclaw.plugins.module_utils import _farm_model as fm

ROOT = Path(__file__).resolve().parents[4]
HOSTS = {"homelab": ["jerry", "bobby", "billy"], "workstations": ["macbook"]}
TEXT = (ROOT / "inventory" / "homelab" / "group_vars" / "all" / "farm.yml").read_text(encoding="utf-8")
BASE = {k: v for k, v in yaml.safe_load(TEXT).items() if k in fm.TOP_LEVEL}
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def model():
    return copy.deepcopy(BASE)


def test_the_inventory_writes_the_version_once(model):
    assert TEXT.count(model["openclaw_version"]) == 1
    assert fm.validate(model, HOSTS) == []
    assert fm.normalize(model)["farm_gateways"][0]["image"] == f"ghcr.io/openclaw/openclaw:{model['openclaw_version']}"


def test_an_upgrade_changes_only_openclaw_version(model):
    model["openclaw_version"] = "2026.9.7"
    assert fm.validate(model, HOSTS) == []
    assert fm.normalize(model)["farm_gateways"][0]["image"] == "ghcr.io/openclaw/openclaw:2026.9.7"


@pytest.mark.parametrize(("image", "normalized"), [
    ("registry.lan:5000/openclaw/openclaw", "registry.lan:5000/openclaw/openclaw:2026.9.6"),
    (f"ghcr.io/openclaw/openclaw@{DIGEST}", f"ghcr.io/openclaw/openclaw:2026.9.6@{DIGEST}"),
    ("ghcr.io/openclaw/openclaw:2026.9.6", "ghcr.io/openclaw/openclaw:2026.9.6"),
    (f"ghcr.io/openclaw/openclaw:2026.9.6@{DIGEST}", f"ghcr.io/openclaw/openclaw:2026.9.6@{DIGEST}"),
])
def test_the_tag_is_derived_unless_given(model, image, normalized):
    model["farm_gateways"][0]["image"] = image
    assert fm.validate(model, HOSTS) == []
    assert fm.normalize(model)["farm_gateways"][0]["image"] == normalized


def test_a_tag_of_its_own_must_still_be_the_release(model):
    model["farm_gateways"][0]["image"] = "ghcr.io/openclaw/openclaw:2026.9.5"
    (problem,) = fm.validate(model, HOSTS)
    assert problem["path"] == "farm_gateways[0].image"
    assert problem["msg"].startswith("image tag '2026.9.5' does not match openclaw_version '2026.9.6'")
