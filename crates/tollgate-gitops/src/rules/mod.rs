//! The built-in GitOps rules. Adding a rule: its file here, one line in
//! [`rules`], its page `rules/<id>.md`, its fixtures `testdata/rules/<id>/`.

mod argo;
mod workflow_common;

tollgate_core::rules! {
    /// Every built-in GitOps rule, in catalog order.
    pub fn rules() {
        auto_merge_to_prod::AutoMergeToProd,
        prod_deploy_without_environment::ProdDeployWithoutEnvironment,
        prod_deploy_without_concurrency::ProdDeployWithoutConcurrency,
        promotion_skips_staging::PromotionSkipsStaging,
        prod_self_heal::ProdSelfHeal,
        prod_auto_prune::ProdAutoPrune,
        allow_empty_sync::AllowEmptySync,
        lower_env_drift_uncorrected::LowerEnvDriftUncorrected,
        rollout_without_analysis::RolloutWithoutAnalysis,
        analysis_template_missing::AnalysisTemplateMissing,
        canary_without_thresholds::CanaryWithoutThresholds,
        mutable_image_ref::MutableImageRef,
        unpinned_chart::UnpinnedChart,
        unpinned_remote_base::UnpinnedRemoteBase,
        plaintext_secret::PlaintextSecret,
        env_parity::EnvParity,
        deploy_after_merge::DeployAfterMerge,
    }
}
