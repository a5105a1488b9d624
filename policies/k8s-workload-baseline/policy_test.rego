package tollgate.k8s_workload_baseline_test

import rego.v1

import data.tollgate.k8s_workload_baseline as baseline

good_container := {
	"name": "app",
	"image": "ghcr.io/acme/app:1.0.0",
	"resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
	"securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true},
}

deployment(spec) := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": spec}}}

all_findings(doc) := n if {
	a := baseline.deny with input as doc
	b := baseline.deny_privileged with input as doc
	c := baseline.deny_host_namespace with input as doc
	d := baseline.deny_limits with input as doc
	e := baseline.deny_writable_root with input as doc
	n := (((count(a) + count(b)) + count(c)) + count(d)) + count(e)
}

test_hardened_deployment_passes if {
	all_findings(deployment({"containers": [good_container]})) == 0
}

test_pod_level_non_root_is_enough if {
	c := object.remove(good_container, ["securityContext"])
	doc := deployment({"securityContext": {"runAsNonRoot": true}, "containers": [object.union(c, {"securityContext": {"readOnlyRootFilesystem": true}})]})
	results := baseline.deny with input as doc
	count(results) == 0
}

test_root_container_is_denied_at_the_container if {
	c := object.union(good_container, {"securityContext": {"runAsNonRoot": false, "readOnlyRootFilesystem": true}})
	results := baseline.deny with input as deployment({"containers": [c]})
	count(results) == 1
	some r in results
	r.path == ["spec", "template", "spec", "containers", 0]
}

test_privileged_is_denied_at_the_flag if {
	c := object.union(good_container, {"securityContext": {"privileged": true, "runAsNonRoot": true, "readOnlyRootFilesystem": true}})
	results := baseline.deny_privileged with input as deployment({"containers": [c]})
	some r in results
	r.path == ["spec", "template", "spec", "containers", 0, "securityContext", "privileged"]
}

test_host_namespaces_are_denied if {
	doc := deployment({"hostNetwork": true, "hostPID": true, "containers": [good_container]})
	results := baseline.deny_host_namespace with input as doc
	count(results) == 2
}

test_missing_limits_are_reported_per_resource if {
	c := object.remove(good_container, ["resources"])
	results := baseline.deny_limits with input as deployment({"containers": [c]})
	count(results) == 2
}

test_init_containers_and_cronjobs_are_covered if {
	c := object.remove(good_container, ["securityContext"])
	doc := {"kind": "CronJob", "metadata": {"name": "nightly"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": [c], "containers": [good_container]}}}}}}
	results := baseline.deny_writable_root with input as doc
	some r in results
	r.path == ["spec", "jobTemplate", "spec", "template", "spec", "initContainers", 0]
}

test_non_workloads_are_ignored if {
	all_findings({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}) == 0
}
