# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The later stages of test_phase4_resume.py (see there): a file of their own so that pytest-xdist runs them
beside the early ones, with a phase 2 farm and an uninterrupted run of their own."""

from __future__ import annotations

import pytest

from tests.integration.test_phase4_resume import EARLY, STAGES, Phase2Snapshot, resume_and_compare, uninterrupted_state
from tools.testsupport.labclient import live_mode

pytestmark = [pytest.mark.skipif(live_mode(), reason="moves data on the lab's hosts only"), pytest.mark.slow]


@pytest.fixture(scope="module")
def phase2(tmp_path_factory):
    snapshot = Phase2Snapshot(tmp_path_factory)
    yield snapshot
    snapshot.farm.lab.stop()


@pytest.fixture(scope="module")
def uninterrupted(phase2):
    return uninterrupted_state(phase2)


@pytest.mark.parametrize("stage", [stage for stage in STAGES if stage not in EARLY])
def test_an_interrupted_phase4_resumes_to_the_same_farm(phase2, uninterrupted, stage):
    resume_and_compare(phase2, uninterrupted, stage)
