package main

// Consul ACL policy rules, decoded by HCL1 into the rule shape of Consul's acl/policy.go
// (PolicyRules and the checks of parseCurrent): unknown top-level keys are ignored by hcl.Decode,
// a policy outside read/write/deny (list for keys) is refused with Consul's own text.

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl"
)

type AgentRule struct {
	Node   string `hcl:",key"`
	Policy string
}

type KeyRule struct {
	Prefix string `hcl:",key"`
	Policy string
}

type NodeRule struct {
	Name   string `hcl:",key"`
	Policy string
}

type ServiceRule struct {
	Name       string `hcl:",key"`
	Policy     string
	Intentions string
}

type SessionRule struct {
	Node   string `hcl:",key"`
	Policy string
}

type EventRule struct {
	Event  string `hcl:",key"`
	Policy string
}

type PreparedQueryRule struct {
	Prefix string `hcl:",key"`
	Policy string
}

type PolicyRules struct {
	ACL                   string               `hcl:"acl,expand"`
	Agents                []*AgentRule         `hcl:"agent,expand"`
	AgentPrefixes         []*AgentRule         `hcl:"agent_prefix,expand"`
	Keys                  []*KeyRule           `hcl:"key,expand"`
	KeyPrefixes           []*KeyRule           `hcl:"key_prefix,expand"`
	Nodes                 []*NodeRule          `hcl:"node,expand"`
	NodePrefixes          []*NodeRule          `hcl:"node_prefix,expand"`
	Services              []*ServiceRule       `hcl:"service,expand"`
	ServicePrefixes       []*ServiceRule       `hcl:"service_prefix,expand"`
	Sessions              []*SessionRule       `hcl:"session,expand"`
	SessionPrefixes       []*SessionRule       `hcl:"session_prefix,expand"`
	Events                []*EventRule         `hcl:"event,expand"`
	EventPrefixes         []*EventRule         `hcl:"event_prefix,expand"`
	PreparedQueries       []*PreparedQueryRule `hcl:"query,expand"`
	PreparedQueryPrefixes []*PreparedQueryRule `hcl:"query_prefix,expand"`
	Keyring               string               `hcl:"keyring"`
	Operator              string               `hcl:"operator"`
	Mesh                  string               `hcl:"mesh"`
	Peering               string               `hcl:"peering"`
}

func validPolicy(p string) bool { return p == "deny" || p == "read" || p == "write" }

// goString prints a rule as Consul's %#v does (package acl).
func goString(v interface{}) string {
	return strings.Replace(strings.TrimPrefix(fmt.Sprintf("%#v", v), "&"), "main.", "acl.", 1)
}

func parseACLRules(rules string) error {
	if rules == "" {
		return nil
	}
	p := &PolicyRules{}
	if err := hcl.Decode(p, rules); err != nil {
		return fmt.Errorf("Failed to parse ACL rules: %v", err)
	}
	for name, level := range map[string]string{"acl": p.ACL, "keyring": p.Keyring, "operator": p.Operator,
		"mesh": p.Mesh, "peering": p.Peering} {
		if level != "" && !validPolicy(level) {
			return fmt.Errorf("Invalid %s policy: %#v", name, level)
		}
	}
	type check struct {
		kind  string
		rules []interface{}
	}
	var checks []check
	add := func(kind string, n int, get func(int) (interface{}, string, bool)) {
		for i := 0; i < n; i++ {
			rule, level, allowList := get(i)
			if !(validPolicy(level) || allowList && level == "list") {
				checks = append(checks, check{kind, []interface{}{rule}})
			}
		}
	}
	add("agent", len(p.Agents), func(i int) (interface{}, string, bool) { return p.Agents[i], p.Agents[i].Policy, false })
	add("agent_prefix", len(p.AgentPrefixes), func(i int) (interface{}, string, bool) {
		return p.AgentPrefixes[i], p.AgentPrefixes[i].Policy, false
	})
	add("key", len(p.Keys), func(i int) (interface{}, string, bool) { return p.Keys[i], p.Keys[i].Policy, true })
	add("key_prefix", len(p.KeyPrefixes), func(i int) (interface{}, string, bool) {
		return p.KeyPrefixes[i], p.KeyPrefixes[i].Policy, true
	})
	add("node", len(p.Nodes), func(i int) (interface{}, string, bool) { return p.Nodes[i], p.Nodes[i].Policy, false })
	add("node_prefix", len(p.NodePrefixes), func(i int) (interface{}, string, bool) {
		return p.NodePrefixes[i], p.NodePrefixes[i].Policy, false
	})
	add("service", len(p.Services), func(i int) (interface{}, string, bool) {
		s := p.Services[i]
		return s, s.Policy, false
	})
	add("service_prefix", len(p.ServicePrefixes), func(i int) (interface{}, string, bool) {
		s := p.ServicePrefixes[i]
		return s, s.Policy, false
	})
	add("session", len(p.Sessions), func(i int) (interface{}, string, bool) { return p.Sessions[i], p.Sessions[i].Policy, false })
	add("session_prefix", len(p.SessionPrefixes), func(i int) (interface{}, string, bool) {
		return p.SessionPrefixes[i], p.SessionPrefixes[i].Policy, false
	})
	add("event", len(p.Events), func(i int) (interface{}, string, bool) { return p.Events[i], p.Events[i].Policy, false })
	add("event_prefix", len(p.EventPrefixes), func(i int) (interface{}, string, bool) {
		return p.EventPrefixes[i], p.EventPrefixes[i].Policy, false
	})
	add("query", len(p.PreparedQueries), func(i int) (interface{}, string, bool) {
		return p.PreparedQueries[i], p.PreparedQueries[i].Policy, false
	})
	add("query_prefix", len(p.PreparedQueryPrefixes), func(i int) (interface{}, string, bool) {
		return p.PreparedQueryPrefixes[i], p.PreparedQueryPrefixes[i].Policy, false
	})
	if len(checks) > 0 {
		return fmt.Errorf("Invalid %s policy: %s", checks[0].kind, goString(checks[0].rules[0]))
	}
	for _, group := range [][]*ServiceRule{p.Services, p.ServicePrefixes} {
		for _, s := range group {
			if s.Intentions != "" && !validPolicy(s.Intentions) {
				return fmt.Errorf("Invalid service intentions policy: %s", goString(s))
			}
		}
	}
	return nil
}
