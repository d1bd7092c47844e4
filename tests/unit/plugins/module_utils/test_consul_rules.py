# Copyright: octant.openclaw contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consul ACL rules compared by meaning: the HCL subset parser, the JSON form, normalisation and
the canonical HCL rendering."""

from __future__ import annotations

import pytest
from ansible_collections.octant.openclaw.plugins.module_utils._consul_rules import (
    RulesError,
    display_rules,
    normalize_rules,
    parse_hcl,
    render_hcl,
    same_rules,
)

AGENT = """
key_prefix "openclaw/bus/bobby/in/" {
  policy = "read"
}
key_prefix "openclaw/bus/jerry/in/bobby/" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}
operator = "read"
"""

EXPECTED = {
    "key_prefix": {"openclaw/bus/bobby/in/": {"policy": "read"},
                   "openclaw/bus/jerry/in/bobby/": {"policy": "write"}},
    "session_prefix": {"": {"policy": "write"}},
    "operator": "read",
}


def test_parse_agent_policy():
    assert normalize_rules(AGENT) == EXPECTED


@pytest.mark.parametrize("variant", [
    # whitespace, one line, commas
    'operator = "read" session_prefix "" { policy = "write" } '
    'key_prefix "openclaw/bus/jerry/in/bobby/" { policy = "write", } '
    'key_prefix "openclaw/bus/bobby/in/" { policy = "read" }',
    # order of blocks and comments of all kinds
    """
    # the inbox
    session_prefix "" { policy = "write" }   // sessions for locks
    /* a block
       comment */
    key_prefix "openclaw/bus/jerry/in/bobby/" { policy = "write" }
    key_prefix "openclaw/bus/bobby/in/" {
        policy = "read"
    }
    operator = "read"
    """,
    # colon assignment and quoted names
    '"operator": "read"\nkey_prefix "openclaw/bus/bobby/in/" { "policy": "read" }\n'
    'key_prefix "openclaw/bus/jerry/in/bobby/" { policy: "write" }\nsession_prefix "" { policy = "write" }',
    # object spelling instead of labelled blocks
    """
    key_prefix = {
      "openclaw/bus/bobby/in/" = { policy = "read" }
      "openclaw/bus/jerry/in/bobby/" = { policy = "write" }
    }
    session_prefix { "" { policy = "write" } }
    operator = "read"
    """,
    # JSON
    '{"operator": "read", "session_prefix": {"": {"policy": "write"}}, "key_prefix": '
    '{"openclaw/bus/jerry/in/bobby/": {"policy": "write"}, "openclaw/bus/bobby/in/": {"policy": "read"}}}',
    # JSON with repeated blocks as a list
    '{"operator": "read", "session_prefix": {"": {"policy": "write"}}, "key_prefix": ['
    '{"openclaw/bus/jerry/in/bobby/": {"policy": "write"}}, {"openclaw/bus/bobby/in/": {"policy": "read"}}]}',
])
def test_equivalent_spellings(variant):
    assert normalize_rules(variant) == EXPECTED
    assert same_rules(AGENT, variant)


@pytest.mark.parametrize("changed", [
    AGENT.replace('"read"\n}', '"write"\n}', 1),
    AGENT.replace("bobby/in/", "billy/in/", 1),
    AGENT + 'node_prefix "" { policy = "read" }',
    AGENT.replace('operator = "read"', ""),
])
def test_real_changes_are_seen(changed):
    assert not same_rules(AGENT, changed)


def test_same_block_twice_merges():
    twice = 'key "a" { policy = "read" }\nkey "a" { intentions = "read" }'
    once = 'key "a" { policy = "read"\n intentions = "read" }'
    assert normalize_rules(twice) == normalize_rules(once)


def test_repeated_attribute_keeps_the_last():
    assert normalize_rules('operator = "read"\noperator = "write"') == {"operator": "write"}


def test_nested_namespace_blocks():
    text = 'namespace "team" { key_prefix "" { policy = "list" } }\npartition "p" { namespace "n" { acl = "read" } }'
    assert normalize_rules(text) == {
        "namespace": {"team": {"key_prefix": {"": {"policy": "list"}}}},
        "partition": {"p": {"namespace": {"n": {"acl": "read"}}}},
    }


def test_values_of_all_kinds():
    text = 'a = 1\nb = -2.5\nc = true\nd = false\ne = ["x", 1, true]\nf = "esc\\"aped\\u00e9"\ng = {}'
    assert normalize_rules(text) == {"a": 1, "b": -2.5, "c": True, "d": False, "e": ["x", 1, True],
                                     "f": 'esc"apedé', "g": {}}


def test_empty_rules():
    assert normalize_rules("") == {}
    assert normalize_rules(None) == {}
    assert normalize_rules("  # only a comment\n") == {}
    assert same_rules("", None)


@pytest.mark.parametrize("text, message", [
    ('key_prefix "a" { policy = "read"', "line 1: expected '}', found end of text"),
    ('key_prefix "a" {\n  policy "read"\n}', "line 2: expected '=' or a block after 'policy'"),
    ('operator = ', "line 1: expected a value, found end of text"),
    ('operator = "read', 'line 1: unterminated string'),
    ('/* open', "line 1: unterminated /* comment"),
    ('a = [1 2]', "line 1: expected ',' or ']'"),
    ('\n\n@', "line 3: unexpected '@'"),
    ('= "x"', "line 1: expected a name"),
])
def test_syntax_errors_name_the_line(text, message):
    with pytest.raises(RulesError) as caught:
        normalize_rules(text)
    assert message in str(caught.value)


def test_invalid_json_object_falls_back_to_hcl_and_reports():
    with pytest.raises(RulesError):
        normalize_rules('{"key_prefix": ')


def test_unparsable_rules_compare_as_text():
    assert same_rules("@@ weird", "  @@ weird ")
    assert not same_rules("@@ weird", "@@ other")


def test_render_is_canonical_and_round_trips():
    rendered = render_hcl(EXPECTED)
    assert rendered == (
        'key_prefix "openclaw/bus/bobby/in/" {\n'
        '  policy = "read"\n'
        '}\n'
        'key_prefix "openclaw/bus/jerry/in/bobby/" {\n'
        '  policy = "write"\n'
        '}\n'
        'operator = "read"\n'
        'session_prefix "" {\n'
        '  policy = "write"\n'
        '}\n'
    )
    assert normalize_rules(rendered) == EXPECTED


@pytest.mark.parametrize("text", [
    AGENT,
    'namespace "team" { key_prefix "" { policy = "list" } }',
    'a = ["x", 1]\nb { c = 1 }\n"odd name" = "v"\nempty "x" {}\ne = {}',
])
def test_round_trip(text):
    data = normalize_rules(text)
    assert normalize_rules(render_hcl(data)) == data


def test_display_rules_falls_back_to_the_text():
    assert display_rules("@@ weird") == "@@ weird"
    assert display_rules('operator="read"') == 'operator = "read"\n'


def test_parse_keeps_repeats_in_order():
    pairs = parse_hcl('key "a" { policy = "read" }\nkey "b" { policy = "write" }').pairs
    assert [pair[0] for pair in pairs] == ["key", "key"]
