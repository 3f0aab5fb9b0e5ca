// Package codedeploy reports verdicts to AWS CodeDeploy: it is the emitter kind "codedeploy",
// which answers a CodeDeploy lifecycle hook (ECS or Lambda compute platform) with
// PutLifecycleEventHookExecutionStatus once the analysis behind the hook is decided.
//
// An analysis belongs to a hook when its labels carry the hook's two ids — LabelDeploymentID
// and LabelHookExecutionID, which the hook Lambda (package awshook) sets when it starts the
// analysis. The status is Succeeded only when the decision is promote; every other end —
// rollback, inconclusive, aborted, overridden to rollback — is Failed. Events of analyses
// without those labels, and events that decide nothing (started, smoke done, a regression
// after promote), are acknowledged without a call.
//
// Each Emit makes one call (the SDK's own retries are off); retries are the emit.Dispatcher's,
// so the call goes through the daemon's durable outbox like any other delivery. Which
// failures are retried is in Retryable.
//
// The AWS region, credentials and endpoint come from the SDK's standard chain (AWS_REGION,
// the instance or task role, AWS_ENDPOINT_URL_CODEDEPLOY …), read at the first call; a
// configured endpoint URL replaces the service's (the SDK's BaseEndpoint), for tests and
// private endpoints.
//
// The package must not know how endpoints are configured, nor how the analysis was started.
package codedeploy
