resource "github_branch_protection" "main" {
  repository_id  = github_repository.gitops.node_id
  pattern        = "main"
  enforce_admins = true

  required_pull_request_reviews {
    required_approving_review_count = 1
    require_code_owner_reviews      = true
    pull_request_bypassers          = ["/release-bot"]
  }
}

resource "github_repository_ruleset" "main" {
  name        = "main"
  repository  = github_repository.gitops.name
  target      = "branch"
  enforcement = "evaluate"

  conditions {
    ref_name {
      include = ["~DEFAULT_BRANCH"]
      exclude = []
    }
  }

  rules {
    required_signatures = true
  }
}
