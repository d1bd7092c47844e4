// nomad-client-check: what a Nomad client, the podman driver, consul-template and Consul's ACL
// parser would say about a job (Nomad API JSON) or a Consul ACL policy, using the engines' own
// libraries (HCL2 JSON syntax + hcldec, text/template, go-envparse, HCL1). Test-only: the lab
// simulator runs it on every job it accepts; it is not part of the collection.
//
//	nomad-client-check job  [-node node.json] [job.json|-]   -> {"findings": [...], "coverage": {...}}
//	nomad-client-check acl  [rules.hcl|-]                      -> {"findings": [...], "coverage": {...}}
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

// Finding is one thing a client (or Consul) would refuse; Message is the engine's own error text.
type Finding struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Coverage counts what was checked, so a run that checked nothing is visible.
type Coverage struct {
	Configs      int `json:"configs"`
	Templates    int `json:"templates"`
	EnvTemplates int `json:"env_templates"`
	Policies     int `json:"policies"`
}

type Report struct {
	Findings []Finding `json:"findings"`
	Coverage Coverage  `json:"coverage"`
}

func readInput(name string) ([]byte, error) {
	if name == "" || name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "nomad-client-check: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: nomad-client-check job [-node node.json] [job.json|-] | acl [rules|-]")
	}
	report := Report{Findings: []Finding{}}
	switch os.Args[1] {
	case "job":
		flags := flag.NewFlagSet("job", flag.ExitOnError)
		nodeFile := flags.String("node", "", "the node the job is placed on (Nomad API JSON)")
		_ = flags.Parse(os.Args[2:])
		data, err := readInput(flags.Arg(0))
		if err != nil {
			fail("%v", err)
		}
		job, err := decodeJob(data)
		if err != nil {
			fail("job: %v", err)
		}
		node := sampleNode()
		if *nodeFile != "" {
			raw, err := os.ReadFile(*nodeFile)
			if err != nil {
				fail("%v", err)
			}
			if node, err = decodeNode(raw); err != nil {
				fail("node: %v", err)
			}
		}
		checkJob(job, node, &report)
	case "acl":
		data, err := readInput(argOr(os.Args[2:], 0))
		if err != nil {
			fail("%v", err)
		}
		report.Coverage.Policies++
		if err := parseACLRules(string(data)); err != nil {
			report.Findings = append(report.Findings, Finding{Path: "Rules", Kind: "acl-rules", Message: err.Error()})
		}
	default:
		fail("unknown mode %q (job or acl)", os.Args[1])
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(report); err != nil {
		fail("%v", err)
	}
}

func argOr(args []string, i int) string {
	if len(args) > i {
		return args[i]
	}
	return ""
}
