package main

// Consul ACL policy rules, decoded by HCL1 into the rule shape of Consul's acl/policy.go
// (PolicyRules and the checks of parseCurrent): unknown top-level keys are ignored by hcl.Decode,
// a policy outside read/write/deny (list for keys) is refused with Consul's own text.

import (
	"fmt"
	"reflect"
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
	// Every rule block (a slice field: agent, agent_prefix, key, ...) in PolicyRules' field order, the
	// order in which Consul checks them; only key rules may say "list".
	blocks := reflect.ValueOf(p).Elem()
	for f := 0; f < blocks.NumField(); f++ {
		block := blocks.Field(f)
		if block.Kind() != reflect.Slice {
			continue
		}
		kind := strings.TrimSuffix(blocks.Type().Field(f).Tag.Get("hcl"), ",expand")
		for i := 0; i < block.Len(); i++ {
			level := block.Index(i).Elem().FieldByName("Policy").String()
			if !(validPolicy(level) || level == "list" && strings.HasPrefix(kind, "key")) {
				return fmt.Errorf("Invalid %s policy: %s", kind, goString(block.Index(i).Interface()))
			}
		}
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
