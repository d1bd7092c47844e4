package main

// Templates as a Nomad client hands them to consul-template: parsed by Go's text/template with the
// job's delimiters and consul-template's function set (the funcMap of template/template.go plus
// Nomad's nomadVar* functions; names only matter at parse time). Env templates are then rendered
// with sample data and parsed by go-envparse, as loadTemplateEnv in Nomad's template hook does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	envparse "github.com/hashicorp/go-envparse"
)

// Functions that query Consul (consul-template template/funcs.go): they need a Consul token.
var consulFuncs = map[string]bool{
	"datacenters": true, "exportedServices": true, "importedServices": true, "key": true,
	"keyExists": true, "keyOrDefault": true, "ls": true, "safeLs": true, "node": true, "nodes": true,
	"partitions": true, "peerings": true, "service": true, "connect": true, "services": true,
	"tree": true, "safeTree": true, "caRoots": true, "caLeaf": true,
}

// Nomad's default client template.function_denylist: rendering them fails with "function is disabled".
var deniedFuncs = map[string]bool{"plugin": true, "writeToFile": true}

// The rest of consul-template's funcMap (API, Nomad, helper and math functions).
var otherFuncs = []string{
	"file", "secret", "secrets", "pkiCert", "nomadServices", "nomadService", "nomadVarList",
	"nomadVarListSafe", "nomadVar", "nomadVarExists", "scratch", "base64Decode", "base64Encode",
	"base64URLDecode", "base64URLEncode", "byKey", "byPort", "byTag", "contains", "containsAll",
	"containsAny", "containsNone", "containsNotAll", "env", "mustEnv", "envOrDefault", "executeTemplate",
	"explode", "explodeMap", "mergeMap", "mergeMapWithOverride", "in", "indent", "loop", "join", "trim",
	"trimPrefix", "trimSuffix", "trimSpace", "parseBool", "parseFloat", "parseInt", "parseJSON",
	"parseUint", "parseYAML", "plugin", "regexReplaceAll", "regexMatch", "replaceAll", "sha256Hex",
	"md5sum", "hmacSHA256Hex", "timestamp", "toLower", "toJSON", "toJSONPretty", "toUnescapedJSON",
	"toUnescapedJSONPretty", "toTitle", "toTOML", "toUpper", "toYAML", "split", "splitToMap", "byMeta",
	"sockaddr", "writeToFile", "add", "subtract", "multiply", "divide", "modulo", "minimum", "maximum",
	"spew_dump", "spew_printf", "spew_sdump", "spew_sprintf",
}

// Sample values: a plain one (what renders on any client), and what a secret may look like (PEM
// keys span lines, tokens hold quotes): rendered without toJSON-style quoting it makes an env line
// go-envparse refuses.
const plainValue = "sample-value"
const trickyValue = "s4m'ple \"v\\x\n#1 $y"

type varItem struct{ Key, Value string }

func (v varItem) String() string               { return v.Value }
func (v varItem) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", v.Value)), nil }

type varItems map[string]varItem

type sampleService struct {
	Name, ID, Node, Address, Status string
	Port                            int
	Tags                            []string
	ServiceMeta, NodeMeta           map[string]string
}

func sampleServices(args ...string) []*sampleService {
	name := "service"
	if len(args) > 0 {
		name = strings.SplitN(args[0], "@", 2)[0]
	}
	return []*sampleService{{Name: name, ID: name + "-1", Node: "sample-node", Address: "10.0.0.10",
		Status: "passing", Port: 24567, Tags: []string{}, ServiceMeta: map[string]string{}, NodeMeta: map[string]string{}}}
}

func toJSONFunc(v interface{}) (string, error) {
	if v == nil {
		return "", nil
	}
	out, err := json.Marshal(v)
	return string(bytes.TrimSpace(out)), err
}

// funcMap: working stand-ins where sample rendering needs them, a generic stand-in otherwise.
func funcMap(env map[string]string, keys []string, sampleValue string) template.FuncMap {
	items := func(string) varItems {
		out := varItems{}
		for _, k := range keys {
			out[k] = varItem{Key: k, Value: sampleValue}
		}
		return out
	}
	generic := func(args ...interface{}) (interface{}, error) { return "", nil }
	m := template.FuncMap{}
	for name := range consulFuncs {
		m[name] = generic
	}
	for _, name := range otherFuncs {
		m[name] = generic
	}
	for name := range deniedFuncs {
		m[name] = func(args ...interface{}) (string, error) { return "", errors.New("function is disabled") }
	}
	m["nomadVar"] = items
	m["nomadVarExists"] = func(string) bool { return true }
	m["nomadVarList"] = func(...string) ([]interface{}, error) { return nil, nil }
	m["nomadVarListSafe"] = m["nomadVarList"]
	m["service"] = func(args ...string) []*sampleService { return sampleServices(args...) }
	m["nomadService"] = m["service"]
	m["key"] = func(string) string { return sampleValue }
	m["keyOrDefault"] = func(k, d string) string { return d }
	m["keyExists"] = func(string) bool { return true }
	m["env"] = func(k string) string { return env[k] }
	m["envOrDefault"] = func(k, d string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return d
	}
	m["toJSON"] = toJSONFunc
	m["toUnescapedJSON"] = toJSONFunc
	m["toUpper"] = strings.ToUpper
	m["toLower"] = strings.ToLower
	m["trimSpace"] = strings.TrimSpace
	m["join"] = func(sep string, a []string) string { return strings.Join(a, sep) }
	return m
}

// walk collects the functions a template calls and the field names and index keys it reads.
type usage struct {
	funcs map[string]bool
	keys  map[string]bool
}

func (u *usage) node(n parse.Node) {
	switch t := n.(type) {
	case nil:
	case *parse.ListNode:
		if t != nil { // a missing else branch
			visitAll(u, t.Nodes)
		}
	case *parse.ActionNode:
		u.node(t.Pipe)
	case *parse.IfNode:
		u.branch(&t.BranchNode)
	case *parse.RangeNode:
		u.branch(&t.BranchNode)
	case *parse.WithNode:
		u.branch(&t.BranchNode)
	case *parse.TemplateNode:
		u.node(t.Pipe)
	case *parse.PipeNode:
		if t != nil { // {{template "name"}} without a pipeline
			visitAll(u, t.Cmds)
		}
	case *parse.CommandNode:
		for i, a := range t.Args {
			if id, ok := a.(*parse.IdentifierNode); ok && id.Ident == "index" {
				for _, rest := range t.Args[i+1:] {
					if s, ok := rest.(*parse.StringNode); ok {
						u.keys[s.Text] = true
					}
				}
			}
			u.node(a)
		}
	case *parse.IdentifierNode:
		u.funcs[t.Ident] = true
	case *parse.FieldNode:
		for _, f := range t.Ident {
			u.keys[f] = true
		}
	case *parse.ChainNode:
		u.node(t.Node)
		for _, f := range t.Field {
			u.keys[f] = true
		}
	case *parse.VariableNode:
		for _, f := range t.Ident[1:] {
			u.keys[f] = true
		}
	}
}

// visitAll visits the nodes of a list or the commands of a pipeline.
func visitAll[N parse.Node](u *usage, nodes []N) {
	for _, n := range nodes {
		u.node(n)
	}
}

func (u *usage) branch(b *parse.BranchNode) {
	u.node(b.Pipe)
	u.node(b.List)
	u.node(b.ElseList)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newTemplate(tmpl obj, fm template.FuncMap) *template.Template {
	t := template.New("").Delims(str(tmpl, "LeftDelim"), str(tmpl, "RightDelim")).Funcs(fm)
	if tmpl["ErrMissingKey"] == true {
		return t.Option("missingkey=error")
	}
	return t.Option("missingkey=zero")
}

func checkTemplate(tmpl obj, path, taskName, groupName string, hasConsul bool, env, templateEnv map[string]string) []Finding {
	contents := str(tmpl, "EmbeddedTmpl")
	if contents == "" {
		if str(tmpl, "SourcePath") == "" {
			return []Finding{{Path: path, Kind: "template",
				Message: "template: must specify exactly one of 'source' or 'contents'"}}
		}
		return nil // a file from an artifact: nothing to parse here
	}
	parsed, err := newTemplate(tmpl, funcMap(env, nil, plainValue)).Parse(contents)
	if err != nil {
		// consul-template wraps "parse", the runner the source, Nomad's hook "Template failed".
		return []Finding{{Path: path + ".EmbeddedTmpl", Kind: "template",
			Message: fmt.Sprintf("Template failed: (dynamic): parse: %v", err)}}
	}
	u := &usage{funcs: map[string]bool{}, keys: map[string]bool{}}
	for _, t := range parsed.Templates() {
		if t.Tree != nil {
			u.node(t.Tree.Root)
		}
	}
	var findings []Finding
	var consul, denied []string
	for _, name := range sortedKeys(u.funcs) {
		if consulFuncs[name] {
			consul = append(consul, name)
		}
		if deniedFuncs[name] {
			denied = append(denied, name)
		}
	}
	if len(consul) > 0 && !hasConsul {
		findings = append(findings, Finding{Path: path + ".EmbeddedTmpl", Kind: "template-consul",
			Message: fmt.Sprintf("template calls Consul (%s) but neither task %q nor group %q has a consul block: "+
				"the task gets no Consul workload identity token, Consul answers 403 and the template never renders",
				strings.Join(consul, ", "), taskName, groupName)})
	}
	if len(denied) > 0 {
		findings = append(findings, Finding{Path: path + ".EmbeddedTmpl", Kind: "template",
			Message: fmt.Sprintf("Template failed: (dynamic): execute: %s: function is disabled (client template.function_denylist)",
				strings.Join(denied, ", "))})
	}
	if tmpl["Envvars"] != true {
		return findings
	}
	vars, finding := renderEnv(tmpl, contents, path, env, sortedKeys(u.keys), plainValue)
	if finding != nil {
		return append(findings, *finding)
	}
	for k, v := range vars {
		templateEnv[k] = v
	}
	// Fails only with some secret values: a warning, not a refused allocation.
	if _, finding := renderEnv(tmpl, contents, path, env, sortedKeys(u.keys), trickyValue); finding != nil {
		finding.Kind = "env-template-quoting"
		finding.Message = "with a value holding a quote, a backslash or a newline (quote it with toJSON): " +
			finding.Message
		findings = append(findings, *finding)
	}
	return findings
}

// renderEnv renders an env template with every variable item set to value and parses the result as
// Nomad's template hook does.
func renderEnv(tmpl obj, contents, path string, env map[string]string, keys []string, value string) (map[string]string, *Finding) {
	rendered, err := newTemplate(tmpl, funcMap(env, keys, value)).Parse(contents)
	var out bytes.Buffer
	if err == nil {
		err = rendered.Execute(&out, nil)
	}
	if err != nil {
		return nil, &Finding{Path: path + ".EmbeddedTmpl", Kind: "template",
			Message: fmt.Sprintf("Template failed: (dynamic): execute: %v", err)}
	}
	vars, err := envparse.Parse(&out)
	if err != nil {
		return nil, &Finding{Path: path + ".EmbeddedTmpl", Kind: "env-template",
			Message: fmt.Sprintf("Template failed to read environment variables: error parsing env template %q: %v",
				str(tmpl, "DestPath"), err)}
	}
	return vars, nil
}
