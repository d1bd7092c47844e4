# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The later stages of test_phase4_resume.py (see there): a file of their own so that pytest-xdist runs them
beside the early ones, on a farm of their own restored from the session's one phase 2 build and uninterrupted
run (phase2_build, shared by the xdist workers)."""

from __future__ import annotations

import pytest

# The fixtures are the early file's own (imported, so this module gets its own module-scoped farm, restored
# from the one shared build).
from tests.integration.test_phase4_resume import (  # noqa: F401 (fixtures used by name)
    EARLY,
    STAGES,
    phase2,
    phase2_build,
    resume_and_compare,
    uninterrupted,
)
from tools.testsupport.labclient import live_mode

pytestmark = [pytest.mark.skipif(live_mode(), reason="moves data on the lab's hosts only"), pytest.mark.slow]


@pytest.mark.parametrize("stage", [stage for stage in STAGES if stage not in EARLY])
def test_an_interrupted_phase4_resumes_to_the_same_farm(phase2, uninterrupted, stage):  # noqa: F811
    resume_and_compare(phase2, uninterrupted, stage)
