resource "github_branch_protection" "docs" {
  repository_id = github_repository.docs.node_id
  pattern       = "gh-pages"
}
