// Package awshook is the AWS Lambda function that lets CodeDeploy and Amazon ECS wait for a
// greenlight verdict: it turns their lifecycle hook invocations into analyses on a greenlight
// daemon (POST /api/v1/analyses) and their outcomes into the answers each service expects.
//
//   - A CodeDeploy lifecycle hook (ECS or Lambda compute platform) is invoked once with
//     {DeploymentId, LifecycleEventHookExecutionId}. The function starts the analysis with both
//     ids as labels and returns at once; the daemon reports Succeeded or Failed later through
//     its codedeploy endpoint (package verdict/emit/codedeploy), within CodeDeploy's hour. When
//     the daemon cannot start the analysis, the function reports Failed itself: a hook is
//     never left to time out. Configured for the watch (GREENLIGHT_MODE=watch), the hook at
//     AfterAllowTraffic starts the watch alone: Succeeded when it ends with no regression,
//     Failed at the first one.
//   - An Amazon ECS blue/green lifecycle hook is invoked again and again until it answers
//     SUCCEEDED or FAILED: the function starts the analysis, answers IN_PROGRESS with the
//     analysis's id in hookDetails, and on later invocations reads the verdict — SUCCEEDED
//     only on promote.
//
// It knows the daemon only through its HTTP API, and imports nothing of the engine.
package awshook
