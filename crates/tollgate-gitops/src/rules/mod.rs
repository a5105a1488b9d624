//! The built-in GitOps rules. Adding a rule: its file here, one line in
//! [`rules`], its page `rules/<id>.md`, its fixtures `testdata/rules/<id>/`.

use tollgate_core::Rule;

mod allow_empty_sync;
mod analysis_template_missing;
mod argo;
mod auto_merge_to_prod;
mod canary_without_thresholds;
mod deploy_after_merge;
mod env_parity;
mod lower_env_drift_uncorrected;
mod mutable_image_ref;
mod plaintext_secret;
mod prod_auto_prune;
mod prod_deploy_without_concurrency;
mod prod_deploy_without_environment;
mod prod_self_heal;
mod promotion_skips_staging;
mod rollout_without_analysis;
mod unpinned_chart;
mod unpinned_remote_base;
mod workflow_common;

/// Every built-in GitOps rule, in catalog order.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(auto_merge_to_prod::AutoMergeToProd),
        Box::new(prod_deploy_without_environment::ProdDeployWithoutEnvironment),
        Box::new(prod_deploy_without_concurrency::ProdDeployWithoutConcurrency),
        Box::new(promotion_skips_staging::PromotionSkipsStaging),
        Box::new(prod_self_heal::ProdSelfHeal),
        Box::new(prod_auto_prune::ProdAutoPrune),
        Box::new(allow_empty_sync::AllowEmptySync),
        Box::new(lower_env_drift_uncorrected::LowerEnvDriftUncorrected),
        Box::new(rollout_without_analysis::RolloutWithoutAnalysis),
        Box::new(analysis_template_missing::AnalysisTemplateMissing),
        Box::new(canary_without_thresholds::CanaryWithoutThresholds),
        Box::new(mutable_image_ref::MutableImageRef),
        Box::new(unpinned_chart::UnpinnedChart),
        Box::new(unpinned_remote_base::UnpinnedRemoteBase),
        Box::new(plaintext_secret::PlaintextSecret),
        Box::new(env_parity::EnvParity),
        Box::new(deploy_after_merge::DeployAfterMerge),
    ]
}
