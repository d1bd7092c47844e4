# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`openclaw-bus serve` killed with SIGKILL twice while its relay hands a backlog over: after each
restart (same state dir) every message is handed over, and a message is handed over twice only when
the kill hit that very hand-off, and then the repeat says so ("possible duplicate").

The scenario is benchmarks/bus_reliability.py's (1,000 messages there): each kill lands while the agent
holds a hand-off open, so the expected counts are exact, not bounds."""

from __future__ import annotations

from tools.testsupport.reliability import crash

MESSAGES = 300


def test_sigkill_twice_mid_batch_loses_nothing_and_never_repeats_silently(farm, tmp_path):
    result = crash(farm, tmp_path, messages=MESSAGES, kill_at=(0.2, 0.6), timeout=60)
    assert result["problems"] == []
    assert result["kills"] == 2
    assert result["sent"] == result["delivered"] == MESSAGES and result["lost"] == 0 and result["unexpected"] == 0
    # Each kill interrupted exactly one hand-off (the journal says which): those two, and nothing else,
    # reached the agent twice, and the second time with the mark.
    assert [len(j["handing"]) for j in result["journal_at_kills"]] == [1, 1]
    assert result["marked_ids"] == sorted(result["held"]) and result["marked_repeats"] == 2
    assert result["handoffs"] == MESSAGES + 2 and result["silent_duplicates"] == 0
    # Answered before the kill, acked after the restart without a second hand-off (counted above).
    assert result["answered_unacked_at_kills"] >= 1
    assert result["order_violations"] == 0
    # Every answer went back to the sender once.
    assert result["replies"]["received"] == MESSAGES and result["replies"]["silent_duplicates"] == 0
