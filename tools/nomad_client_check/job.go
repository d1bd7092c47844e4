package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

type obj = map[string]interface{}

// Node is what a client knows about itself and exposes to interpolation.
type Node struct {
	ID, Name, Datacenter, Region, NodeClass, NodePool string
	Attributes, Meta                                  map[string]string
}

func decodeJSON(data []byte) (obj, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m obj
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeJob(data []byte) (obj, error) {
	m, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	if inner, ok := m["Job"].(obj); ok {
		return inner, nil
	}
	return m, nil
}

func decodeNode(data []byte) (Node, error) {
	m, err := decodeJSON(data)
	if err != nil {
		return Node{}, err
	}
	n := Node{ID: str(m, "ID"), Name: str(m, "Name"), Datacenter: str(m, "Datacenter"),
		NodeClass: str(m, "NodeClass"), NodePool: str(m, "NodePool"), Region: str(m, "Region"),
		Attributes: strMap(m, "Attributes"), Meta: strMap(m, "Meta")}
	if n.Region == "" {
		n.Region = "global"
	}
	return n, nil
}

// sampleNode stands for a rootless podman client when the caller names no node.
func sampleNode() Node {
	return Node{ID: "9a1b2c3d-0000-4000-8000-000000000001", Name: "sample-node", Datacenter: "dc1",
		Region: "global", NodePool: "default",
		Attributes: map[string]string{"driver.podman": "true", "driver.podman.rootless": "true",
			"kernel.name": "linux", "cpu.arch": "amd64", "unique.hostname": "sample-node",
			"unique.network.ip-address": "10.0.0.10", "os.name": "debian"},
		Meta: map[string]string{}}
}

func str(m obj, key string) string {
	if v, ok := m[key]; ok && v != nil {
		switch t := v.(type) {
		case string:
			return t
		case json.Number:
			return t.String()
		case bool:
			if t {
				return "true"
			}
			return "false"
		}
	}
	return ""
}

func strMap(m obj, key string) map[string]string {
	out := map[string]string{}
	if sub, ok := m[key].(obj); ok {
		for k := range sub {
			out[k] = str(sub, k)
		}
	}
	return out
}

func objects(m obj, key string) []obj {
	var out []obj
	if items, ok := m[key].([]interface{}); ok {
		for _, it := range items {
			if o, ok := it.(obj); ok {
				out = append(out, o)
			}
		}
	}
	return out
}

func present(m obj, key string) bool {
	v, ok := m[key]
	if !ok || v == nil {
		return false
	}
	if o, ok := v.(obj); ok {
		return o != nil
	}
	return true
}

// taskEnv builds what client/taskenv's Builder gives a task: the NOMAD_* variables, meta, ports,
// the task's Env (with ${...} replaced like helper/args.ReplaceEnv) and the env templates' values.
func taskEnv(job, group, task obj, node Node, templateEnv map[string]string) map[string]string {
	env := map[string]string{
		"NOMAD_ALLOC_DIR": "/alloc", "NOMAD_TASK_DIR": "/local", "NOMAD_SECRETS_DIR": "/secrets",
		"NOMAD_ALLOC_ID": "5f2a8c1e-7b3d-4e9f-a1c2-3d4e5f6a7b8c", "NOMAD_SHORT_ALLOC_ID": "5f2a8c1e",
		"NOMAD_ALLOC_INDEX": "0", "NOMAD_TASK_NAME": str(task, "Name"), "NOMAD_GROUP_NAME": str(group, "Name"),
		"NOMAD_JOB_ID": str(job, "ID"), "NOMAD_JOB_NAME": firstNonEmpty(str(job, "Name"), str(job, "ID")),
		"NOMAD_ALLOC_NAME": fmt.Sprintf("%s.%s[0]", firstNonEmpty(str(job, "Name"), str(job, "ID")), str(group, "Name")),
		"NOMAD_DC":         node.Datacenter, "NOMAD_REGION": firstNonEmpty(str(job, "Region"), "global"),
		"NOMAD_NAMESPACE": firstNonEmpty(str(job, "Namespace"), "default"),
	}
	if res, ok := task["Resources"].(obj); ok {
		if v := str(res, "MemoryMB"); v != "" {
			env["NOMAD_MEMORY_LIMIT"] = v
		}
		if v := str(res, "MemoryMaxMB"); v != "" && v != "0" {
			env["NOMAD_MEMORY_MAX_LIMIT"] = v
		}
		if v := str(res, "CPU"); v != "" {
			env["NOMAD_CPU_LIMIT"] = v
		}
	}
	ip := firstNonEmpty(node.Attributes["unique.network.ip-address"], "127.0.0.1")
	port := 20000
	for _, network := range objects(group, "Networks") {
		for _, kind := range []string{"ReservedPorts", "DynamicPorts"} {
			for _, p := range objects(network, kind) {
				label := cleanEnv(str(p, "Label"))
				host := str(p, "Value")
				if host == "" || host == "0" {
					host = fmt.Sprint(port)
					port++
				}
				to := str(p, "To")
				if to == "" || to == "0" || to == "-1" {
					to = host
				}
				env["NOMAD_IP_"+label] = ip
				env["NOMAD_HOST_IP_"+label] = ip
				env["NOMAD_PORT_"+label] = to
				env["NOMAD_HOST_PORT_"+label] = host
				env["NOMAD_ALLOC_PORT_"+label] = to
				env["NOMAD_ADDR_"+label] = ip + ":" + to
				env["NOMAD_HOST_ADDR_"+label] = ip + ":" + host
			}
		}
	}
	for _, m := range []map[string]string{strMap(job, "Meta"), strMap(group, "Meta"), strMap(task, "Meta")} {
		for k, v := range m {
			env["NOMAD_META_"+cleanEnv(strings.ToUpper(k))] = v
			env["NOMAD_META_"+cleanEnv(k)] = v
		}
	}
	attrs := nodeAttrs(node)
	for k, v := range strMap(task, "Env") {
		env[k] = replaceEnv(v, attrs, env)
	}
	for k, v := range templateEnv {
		env[k] = v
	}
	return env
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// cleanEnv mirrors helper.CleanEnvVar(s, '_'): anything outside [A-Za-z0-9_] becomes '_'.
func cleanEnv(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// replaceEnv replaces ${name} found in one of the maps and leaves anything else as it is.
func replaceEnv(s string, maps ...map[string]string) string {
	var out strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			out.WriteString(s)
			return out.String()
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			out.WriteString(s)
			return out.String()
		}
		name := s[start+2 : start+end]
		value, found := "", false
		for _, m := range maps {
			if v, ok := m[name]; ok {
				value, found = v, true
				break
			}
		}
		out.WriteString(s[:start])
		if found {
			out.WriteString(value)
		} else {
			out.WriteString(s[start : start+end+1])
		}
		s = s[start+end+1:]
	}
}

func nodeAttrs(node Node) map[string]string {
	attrs := map[string]string{"node.unique.id": node.ID, "node.unique.name": node.Name,
		"node.class": node.NodeClass, "node.datacenter": node.Datacenter, "node.pool": node.NodePool}
	for k, v := range node.Attributes {
		attrs["attr."+k] = v
	}
	for k, v := range node.Meta {
		attrs["meta."+k] = v
	}
	return attrs
}

// evalVariables is TaskEnv.AllValues: every env var and node value as nested cty objects
// (node.unique.name -> node{unique{name}}, attr and meta also under node), env as a flat map.
func evalVariables(env, attrs map[string]string) map[string]cty.Value {
	tree := map[string]interface{}{}
	flat := map[string]cty.Value{}
	for _, k := range sortedKeys(env) {
		addNested(tree, k, env[k])
		flat[k] = cty.StringVal(env[k])
	}
	for k, v := range attrs {
		addNested(tree, k, v)
	}
	if len(flat) > 0 {
		tree["env"] = cty.MapVal(flat)
	} else {
		tree["env"] = cty.MapValEmpty(cty.String)
	}
	if nodeTree, ok := tree["node"].(map[string]interface{}); ok {
		if a, ok := tree["attr"]; ok {
			nodeTree["attr"] = a
		}
		if m, ok := tree["meta"]; ok {
			nodeTree["meta"] = m
		}
	}
	return toCty(tree)
}

// addNested puts a dotted key into nested maps; a map wins over a plain value, an invalid path is skipped.
func addNested(dst map[string]interface{}, key, value string) {
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return
		}
	}
	for _, p := range parts[:len(parts)-1] {
		next, ok := dst[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			dst[p] = next
		}
		dst = next
	}
	last := parts[len(parts)-1]
	if _, isMap := dst[last].(map[string]interface{}); isMap {
		return
	}
	dst[last] = value
}

func toCty(src map[string]interface{}) map[string]cty.Value {
	out := make(map[string]cty.Value, len(src))
	for k, v := range src {
		switch t := v.(type) {
		case string:
			out[k] = cty.StringVal(t)
		case cty.Value:
			out[k] = t
		case map[string]interface{}:
			out[k] = cty.ObjectVal(toCty(t))
		}
	}
	return out
}

// The functions of hclutils.GetStdlibFuncs (helper/pluginutils/hclutils/util.go).
func stdlibFuncs() map[string]function.Function {
	return map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "coalesce": stdlib.CoalesceFunc, "concat": stdlib.ConcatFunc,
		"hasindex": stdlib.HasIndexFunc, "int": stdlib.IntFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "length": stdlib.LengthFunc, "lower": stdlib.LowerFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "reverse": stdlib.ReverseFunc,
		"strlen": stdlib.StrlenFunc, "substr": stdlib.SubstrFunc, "upper": stdlib.UpperFunc,
	}
}

// decodeDriverConfig is hclutils.ParseHclInterface as the task runner calls it: the Config as
// JSON, parsed by HCL's JSON syntax (every string is a template), decoded by hcldec against the
// driver's schema with the task's variables. The error text is the task event's ValidationError.
func decodeDriverConfig(config obj, spec hcldec.Spec, vars map[string]cty.Value) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(config); err != nil {
		return fmt.Errorf("failed to encode driver config: %v", err)
	}
	file, diags := hcljson.Parse(buf.Bytes(), "")
	if !diags.HasErrors() {
		ctx := &hcl.EvalContext{Variables: vars, Functions: stdlibFuncs()}
		_, decDiags := hcldec.Decode(file.Body, spec, ctx)
		diags = diags.Extend(decDiags)
	}
	if !diags.HasErrors() {
		return nil
	}
	// multierror.Append(errors.New("failed to parse config: "), diagErrs...) as task_runner.go does,
	// each diagnostic as formattedDiagnosticErrors formats it.
	errs := []error{errors.New("failed to parse config: ")}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		summary := d.Summary
		if summary == "Extraneous JSON object property" {
			summary = "Invalid label"
		}
		errs = append(errs, fmt.Errorf("%s: %s", summary, d.Detail))
	}
	return errors.New(multierrorText(errs))
}

// multierrorText is go-multierror's ListFormatFunc.
func multierrorText(errs []error) string {
	if len(errs) == 1 {
		return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", errs[0])
	}
	points := make([]string, len(errs))
	for i, err := range errs {
		points[i] = fmt.Sprintf("* %s", err)
	}
	return fmt.Sprintf("%d errors occurred:\n\t%s\n\n", len(errs), strings.Join(points, "\n\t"))
}

func checkJob(job obj, node Node, report *Report) {
	spec := podmanTaskSpec()
	for gi, group := range objects(job, "TaskGroups") {
		gpath := fmt.Sprintf("TaskGroups[%s]", firstNonEmpty(str(group, "Name"), fmt.Sprint(gi)))
		for ti, task := range objects(group, "Tasks") {
			tpath := fmt.Sprintf("%s.Tasks[%s]", gpath, firstNonEmpty(str(task, "Name"), fmt.Sprint(ti)))
			hasConsul := present(task, "Consul") || present(group, "Consul")
			baseEnv := taskEnv(job, group, task, node, nil)
			templateEnv := map[string]string{}
			for i, tmpl := range objects(task, "Templates") {
				path := fmt.Sprintf("%s.Templates[%d]", tpath, i)
				report.Coverage.Templates++
				if tmpl["Envvars"] == true {
					report.Coverage.EnvTemplates++
				}
				for _, f := range checkTemplate(tmpl, path, str(task, "Name"), str(group, "Name"), hasConsul, baseEnv, templateEnv) {
					report.Findings = append(report.Findings, f)
				}
			}
			if str(task, "Driver") != "podman" {
				continue
			}
			report.Coverage.Configs++
			config, _ := task["Config"].(obj)
			if config == nil {
				config = obj{}
			}
			env := taskEnv(job, group, task, node, templateEnv)
			vars := evalVariables(env, nodeAttrs(node))
			if err := decodeDriverConfig(config, spec, vars); err != nil {
				report.Findings = append(report.Findings, Finding{Path: tpath + ".Config", Kind: "driver-config",
					Message: err.Error()})
			}
		}
	}
}
