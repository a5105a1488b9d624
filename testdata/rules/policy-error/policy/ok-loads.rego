package main

import rego.v1

# Not broken, and it passes everything: loaded next to broken.rego, it still runs.
warn contains msg if {
  input.kind == "Secret"
  msg := "Secrets belong in a secret manager"
}
