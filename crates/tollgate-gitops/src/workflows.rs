//! GitHub Actions workflows: triggers, jobs, steps, and what each job
//! deploys or merges, built once per run and shared by the workflow rules.

use std::collections::{BTreeSet, HashMap};

use tollgate_core::{FileKind, Node, RepositoryModel, Route, SourceFile, Tier};

use crate::scope::{Scope, text_scope};

/// Every workflow of the repository.
#[derive(Debug, Default)]
pub struct Workflows {
    /// Parsed workflows, in path order.
    pub list: Vec<Workflow>,
}

/// One workflow file.
#[derive(Debug)]
pub struct Workflow {
    /// Index into [`RepositoryModel::files`].
    pub file: usize,
    /// Trigger event names (`push`, `pull_request`, `merge_group`, ...).
    pub triggers: BTreeSet<String>,
    /// `on.push.branches`.
    pub push_branches: Vec<String>,
    /// `on.pull_request(_target).paths`, empty when unrestricted.
    pub pr_paths: Vec<String>,
    /// `on.workflow_run.workflows`.
    pub after_workflows: Vec<String>,
    /// Whether the workflow sets `concurrency`.
    pub concurrency: bool,
    /// The jobs, in file order.
    pub jobs: Vec<Job>,
}

/// One job.
#[derive(Debug)]
pub struct Job {
    /// The job id (its key under `jobs`).
    pub id: String,
    /// Route of the job mapping.
    pub route: Route,
    /// `name`, or the id.
    pub name: String,
    /// `needs`.
    pub needs: Vec<String>,
    /// `environment` (its name).
    pub environment: Option<String>,
    /// Whether the job sets `concurrency`.
    pub concurrency: bool,
    /// The job's `if`.
    pub condition: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// Indexes of the steps that deploy.
    pub deploy_steps: Vec<usize>,
    /// Where the job deploys, from its id, name, environment, condition and deploy steps.
    pub scope: Scope,
}

impl Job {
    /// True when the job deploys somewhere (a deploy step or an `environment`).
    pub fn deploys(&self) -> bool {
        !self.deploy_steps.is_empty() || self.environment.is_some()
    }

    /// True when the job deploys to prod.
    pub fn deploys_to_prod(&self) -> bool {
        self.deploys() && self.scope.is_prod()
    }

    /// True when the job deploys to staging.
    pub fn deploys_to_staging(&self) -> bool {
        self.deploys() && self.scope.tiers.contains(&Tier::Staging)
    }
}

/// One step.
#[derive(Debug)]
pub struct Step {
    /// Route of the step mapping.
    pub route: Route,
    /// `name`.
    pub name: String,
    /// `run`.
    pub run: String,
    /// `uses`.
    pub uses: String,
    /// `with` inputs, key → value (a non-scalar value as its scalars, joined).
    pub with: Vec<(String, String)>,
    /// `if`.
    pub condition: String,
}

const DEPLOY_COMMANDS: [&str; 22] = [
    "kubectl apply",
    "kubectl set image",
    "kubectl rollout restart",
    "kubectl replace",
    "kubectl create",
    "kubectl patch",
    "helm upgrade",
    "helm install",
    "helmfile apply",
    "helmfile sync",
    "argocd app sync",
    "argocd app set",
    "flux reconcile",
    "terraform apply",
    "tofu apply",
    "oc apply",
    "skaffold deploy",
    "kapp deploy",
    "gcloud run deploy",
    "aws ecs update-service",
    "az webapp deploy",
    "kustomize edit set image",
];

const DEPLOY_ACTIONS: [&str; 12] = [
    "azure/k8s-deploy",
    "azure/webapps-deploy",
    "azure/functions-action",
    "aws-actions/amazon-ecs-deploy-task-definition",
    "google-github-actions/deploy-cloudrun",
    "google-github-actions/deploy-appengine",
    "deliverybot/helm",
    "bitovi/github-actions-deploy-eks-helm",
    "clowdhaus/argo-cd-action",
    "omegion/argocd-actions",
    "actions-hub/kubectl",
    "steebchen/kubectl",
];

/// A step that runs a deploy script or task: `./scripts/deploy.sh prod`,
/// `make deploy-prod`, `npm run deploy`, `task deploy`, `just deploy`.
/// Where it deploys comes from its arguments and its job, as for any
/// deploy step.
fn runs_deploy_script(run: &str) -> bool {
    static SCRIPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?m)(?:^|[\s;&|(])(?:(?:bash|sh|zsh|source|\.)\s+)?[\w./-]*deploy[\w.-]*\.(?:sh|bash|py|rb)\b|(?:^|[\s;&|(])(?:make|task|just|mage)(?:\s+[^\s;&|]+)*?\s+[\w:./-]*deploy[\w:.-]*|(?:^|[\s;&|(])(?:npm|yarn|pnpm|bun)\s+(?:run\s+)?[\w:.-]*deploy[\w:.-]*|(?:^|[\s;&|(])\./[\w./-]*deploy[\w.-]*(?:\s|$)",
        )
        .expect("a constant pattern, compiled by the deploy-script unit test")
    });
    SCRIPT.is_match(&run.to_ascii_lowercase())
}

impl Step {
    /// The `with` input `key`.
    pub fn input(&self, key: &str) -> Option<&str> {
        self.with.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every `with` value, joined (the words a step's inputs contain).
    pub fn inputs_text(&self) -> String {
        self.with.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// True when the step deploys (a known deploy command or action, or a
    /// deploy script or task).
    pub fn deploys(&self) -> bool {
        let run = self.run.to_ascii_lowercase();
        let run = run.split_whitespace().collect::<Vec<_>>().join(" ");
        DEPLOY_COMMANDS.iter().any(|c| run.contains(c))
            || DEPLOY_ACTIONS.iter().any(|a| self.uses.to_ascii_lowercase().starts_with(a))
            || runs_deploy_script(&self.run)
    }
}

fn text(node: Option<&Node>) -> String {
    match node {
        None => String::new(),
        Some(n) => {
            if let Some(s) = n.as_str() {
                s.to_owned()
            } else {
                let mut parts = Vec::new();
                n.walk(&mut |_, v| {
                    if let Some(s) = v.as_str() {
                        parts.push(s.to_owned());
                    }
                });
                parts.join(" ")
            }
        }
    }
}

fn strings(node: Option<&Node>) -> Vec<String> {
    match node {
        Some(n) => match n.as_sequence() {
            Some(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            None => n.as_str().map(|s| vec![s.to_owned()]).unwrap_or_default(),
        },
        None => Vec::new(),
    }
}

impl Workflows {
    /// Parses every workflow of the model.
    pub fn build(model: &RepositoryModel) -> Workflows {
        let mut list = Vec::new();
        for (index, file) in model.files.iter().enumerate() {
            if file.kind != FileKind::Workflow {
                continue;
            }
            let Some(doc) = file.documents.first() else { continue };
            if let Some(w) = parse(model, index, &doc.root) {
                list.push(w);
            }
        }
        Workflows { list }
    }

    /// The shared instance for a run.
    pub fn of(model: &RepositoryModel) -> std::sync::Arc<Workflows> {
        model.shared(Workflows::build)
    }
}

fn parse(model: &RepositoryModel, index: usize, root: &Node) -> Option<Workflow> {
    let on = root.get_key("on").or_else(|| root.get_key("true"))?;
    let mut triggers = BTreeSet::new();
    let mut push_branches = Vec::new();
    let mut pr_paths = Vec::new();
    let mut after_workflows = Vec::new();
    match &on.value {
        tollgate_core::Value::Scalar(s) => {
            triggers.insert(s.text.to_string());
        }
        tollgate_core::Value::Sequence(items) => {
            triggers.extend(items.iter().filter_map(|i| i.as_str().map(str::to_owned)));
        }
        tollgate_core::Value::Mapping(m) => {
            for (event, config) in m.iter() {
                triggers.insert(event.to_owned());
                match event {
                    "push" => push_branches = strings(config.get_key("branches")),
                    "pull_request" | "pull_request_target" => pr_paths.extend(strings(config.get_key("paths"))),
                    "workflow_run" => after_workflows = strings(config.get_key("workflows")),
                    _ => {}
                }
            }
        }
    }
    let mut jobs = Vec::new();
    let environments = &model.environments;
    for (id, job) in
        root.get_key("jobs").and_then(Node::as_mapping).map(|m| m.iter().collect::<Vec<_>>()).unwrap_or_default()
    {
        let route = Route::root().key("jobs").key(id);
        let environment = job
            .get_key("environment")
            .and_then(|e| e.as_str().or_else(|| e.get_key("name").and_then(Node::as_str)))
            .map(str::to_owned);
        let mut steps = Vec::new();
        for (i, step) in job.get_key("steps").and_then(Node::as_sequence).unwrap_or_default().iter().enumerate() {
            steps.push(Step {
                route: route.clone().key("steps").index(i),
                name: text(step.get_key("name")),
                run: text(step.get_key("run")),
                uses: text(step.get_key("uses")),
                with: step
                    .get_key("with")
                    .and_then(Node::as_mapping)
                    .map(|m| m.iter().map(|(k, v)| (k.to_owned(), text(Some(v)))).collect())
                    .unwrap_or_default(),
                condition: text(step.get_key("if")),
            });
        }
        let deploy_steps: Vec<usize> = steps.iter().enumerate().filter(|(_, s)| s.deploys()).map(|(i, _)| i).collect();
        let name = job.get_key("name").and_then(Node::as_str).unwrap_or(id).to_owned();
        let condition = text(job.get_key("if"));
        let mut evidence = format!("{id} {name} {} {condition}", environment.clone().unwrap_or_default());
        for &i in &deploy_steps {
            let s = &steps[i];
            evidence.push_str(&format!(" {} {} {} {}", s.name, s.run, s.inputs_text(), s.condition));
        }
        jobs.push(Job {
            id: id.to_owned(),
            needs: strings(job.get_key("needs")),
            environment,
            concurrency: job.get_key("concurrency").is_some(),
            condition,
            scope: text_scope(environments, &evidence),
            name,
            steps,
            deploy_steps,
            route,
        });
    }
    Some(Workflow {
        file: index,
        triggers,
        push_branches,
        pr_paths,
        after_workflows,
        concurrency: root.get_key("concurrency").is_some(),
        jobs,
    })
}

impl Workflow {
    /// The file of the workflow.
    pub fn source<'m>(&self, model: &'m RepositoryModel) -> &'m SourceFile {
        &model.files[self.file]
    }

    /// Every job `job` needs, directly or through other jobs.
    pub fn transitive_needs(&self, job: &Job) -> BTreeSet<String> {
        let by_id: HashMap<&str, &Job> = self.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = job.needs.clone();
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone())
                && let Some(j) = by_id.get(id.as_str())
            {
                stack.extend(j.needs.iter().cloned());
            }
        }
        seen
    }

    /// The job with this id.
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::runs_deploy_script;

    #[test]
    fn deploy_scripts_and_tasks() {
        for deploy in [
            "./scripts/deploy.sh prod",
            "bash hack/deploy-prod.sh",
            "make deploy-prod",
            "make -C infra deploy ENV=production",
            "npm run deploy -- --env production",
            "yarn deploy:prod",
            "task deploy",
            "just deploy prod",
            "./deploy prod",
        ] {
            assert!(runs_deploy_script(deploy), "{deploy}");
        }
        for other in ["make test", "npm run build", "echo deploy", "./scripts/lint.sh", "git log --grep deploy"] {
            assert!(!runs_deploy_script(other), "{other}");
        }
    }
}
