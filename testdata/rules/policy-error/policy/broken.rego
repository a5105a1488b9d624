package main

import rego.v1

deny contains msg if {
  input.kind == "Deployment"
  msg := sprintf("%s must run as non-root", [input.metadata.name]
}
