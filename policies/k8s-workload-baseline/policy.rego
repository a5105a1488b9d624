# METADATA
# title: Kubernetes workload baseline
# description: >-
#   Pod security basics for every workload kind (Pod, Deployment, StatefulSet,
#   DaemonSet, ReplicaSet, Job, CronJob): run as non-root, no privileged
#   containers, no host namespaces, CPU and memory limits, read-only root
#   filesystem. Enable with `policies: {builtin: [k8s-workload-baseline]}`.
package tollgate.k8s_workload_baseline

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

# The pod spec and its route inside the document.
pod := {"spec": input.spec.template.spec, "path": ["spec", "template", "spec"]} if workload_kinds[input.kind]

pod := {"spec": input.spec.jobTemplate.spec.template.spec, "path": ["spec", "jobTemplate", "spec", "template", "spec"]} if {
	input.kind == "CronJob"
}

pod := {"spec": input.spec, "path": ["spec"]} if input.kind == "Pod"

# Every container with its route.
containers contains {"c": c, "path": array.concat(pod.path, [field, i])} if {
	some field in ["containers", "initContainers"]
	some i, c in pod.spec[field]
}

name := sprintf("%s/%s", [input.kind, object.get(input.metadata, "name", "?")])

# METADATA
# title: Containers must run as non-root
# custom:
#   id: k8s-run-as-non-root
#   severity: error
deny contains {"msg": msg, "path": x.path} if {
	some x in containers
	not pod.spec.securityContext.runAsNonRoot == true
	not x.c.securityContext.runAsNonRoot == true
	msg := sprintf("%s: container `%s` may run as root. Set `securityContext.runAsNonRoot: true` on the pod or the container.", [name, x.c.name])
}

# METADATA
# title: Containers must not be privileged
# custom:
#   id: k8s-no-privileged
#   severity: error
deny_privileged contains {"msg": msg, "path": array.concat(x.path, ["securityContext", "privileged"])} if {
	some x in containers
	x.c.securityContext.privileged == true
	msg := sprintf("%s: container `%s` is privileged: it has every capability of the node. Remove `privileged: true`.", [name, x.c.name])
}

# METADATA
# title: Pods must not share the node's namespaces
# custom:
#   id: k8s-no-host-namespaces
#   severity: error
deny_host_namespace contains {"msg": msg, "path": array.concat(pod.path, [field])} if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod.spec[field] == true
	msg := sprintf("%s: `%s: true` shares the node's namespace with the pod. Remove it.", [name, field])
}

# METADATA
# title: Containers must set CPU and memory limits
# custom:
#   id: k8s-resource-limits
#   severity: warning
deny_limits contains {"msg": msg, "path": x.path} if {
	some x in containers
	some resource in ["cpu", "memory"]
	not x.c.resources.limits[resource]
	msg := sprintf("%s: container `%s` has no `resources.limits.%s`, so one pod can starve its node. Set it.", [name, x.c.name, resource])
}

# METADATA
# title: Containers must have a read-only root filesystem
# custom:
#   id: k8s-read-only-root
#   severity: warning
deny_writable_root contains {"msg": msg, "path": x.path} if {
	some x in containers
	not x.c.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("%s: container `%s` can write to its root filesystem. Set `securityContext.readOnlyRootFilesystem: true` (mount an emptyDir where it must write).", [name, x.c.name])
}
