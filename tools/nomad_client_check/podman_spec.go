package main

// The podman driver's task config schema, written from taskConfigSpec in
// hashicorp/nomad-driver-podman config.go (option names, types, required, defaults), and
// converted to hcldec the way Nomad's helper/pluginutils/hclspecutils/dec.go converts an
// hclspec: attribute types are HCL type expressions, defaults are literal HCL expressions.

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func attr(name, typ string, required bool) hcldec.Spec {
	expr, diags := hclsyntax.ParseExpression([]byte(typ), "spec", hcl.InitialPos)
	if diags.HasErrors() {
		panic(fmt.Sprintf("spec type %q: %s", typ, diags.Error()))
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	if diags.HasErrors() {
		panic(fmt.Sprintf("spec type %q: %s", typ, diags.Error()))
	}
	return &hcldec.AttrSpec{Name: name, Type: ty, Required: required}
}

func literal(src string) hcldec.Spec {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "spec", hcl.InitialPos)
	if diags.HasErrors() {
		panic(diags.Error())
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		panic(diags.Error())
	}
	return &hcldec.LiteralSpec{Value: val}
}

func withDefault(primary hcldec.Spec, def string) hcldec.Spec {
	return &hcldec.DefaultSpec{Primary: primary, Default: literal(def)}
}

func block(name string, required bool, nested hcldec.ObjectSpec) hcldec.Spec {
	return &hcldec.BlockSpec{TypeName: name, Required: required, Nested: nested}
}

func podmanTaskSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"apparmor_profile": attr("apparmor_profile", "string", false),
		"args":             attr("args", "list(string)", false),
		"auth": block("auth", false, hcldec.ObjectSpec{
			"username":   attr("username", "string", false),
			"password":   attr("password", "string", false),
			"tls_verify": withDefault(attr("tls_verify", "bool", false), "true"),
		}),
		"auth_soft_fail":     attr("auth_soft_fail", "bool", false),
		"command":            attr("command", "string", false),
		"cap_add":            attr("cap_add", "list(string)", false),
		"cap_drop":           attr("cap_drop", "list(string)", false),
		"selinux_opts":       attr("selinux_opts", "list(string)", false),
		"cpu_hard_limit":     attr("cpu_hard_limit", "bool", false),
		"cpu_cfs_period":     attr("cpu_cfs_period", "number", false),
		"devices":            attr("devices", "list(string)", false),
		"entrypoint":         attr("entrypoint", "any", false),
		"working_dir":        attr("working_dir", "string", false),
		"hostname":           attr("hostname", "string", false),
		"image":              attr("image", "string", true),
		"arch":               attr("arch", "string", false),
		"os":                 attr("os", "string", false),
		"variant":            attr("variant", "string", false),
		"image_pull_timeout": withDefault(attr("image_pull_timeout", "string", false), `"5m"`),
		"init":               attr("init", "bool", false),
		"init_path":          attr("init_path", "string", false),
		"ipv4_address":       attr("ipv4_address", "string", false),
		"ipv6_address":       attr("ipv6_address", "string", false),
		"static_ips":         attr("static_ips", "list(string)", false),
		"static_mac":         attr("static_mac", "string", false),
		"labels":             attr("labels", "list(map(string))", false),
		"logging": block("logging", false, hcldec.ObjectSpec{
			"driver":  attr("driver", "string", false),
			"options": attr("options", "list(map(string))", false),
		}),
		"memory_reservation": attr("memory_reservation", "string", false),
		"memory_swap":        attr("memory_swap", "string", false),
		"memory_swappiness":  attr("memory_swappiness", "number", false),
		"network_mode":       attr("network_mode", "string", false),
		"ipc_mode":           attr("ipc_mode", "string", false),
		"oom_score_adj":      attr("oom_score_adj", "number", false),
		"extra_hosts":        attr("extra_hosts", "list(string)", false),
		"pids_limit":         attr("pids_limit", "number", false),
		"port_map":           attr("port_map", "list(map(number))", false),
		"ports":              attr("ports", "list(string)", false),
		"privileged":         attr("privileged", "bool", false),
		"security_opt":       attr("security_opt", "list(string)", false),
		"socket":             withDefault(attr("socket", "string", false), `"default"`),
		"sysctl":             attr("sysctl", "list(map(string))", false),
		"tmpfs":              attr("tmpfs", "list(string)", false),
		"tty":                attr("tty", "bool", false),
		"ulimit":             attr("ulimit", "list(map(string))", false),
		"volumes":            attr("volumes", "list(string)", false),
		"force_pull":         attr("force_pull", "bool", false),
		"readonly_rootfs":    attr("readonly_rootfs", "bool", false),
		"userns":             attr("userns", "string", false),
		"shm_size":           attr("shm_size", "string", false),
	}
}
