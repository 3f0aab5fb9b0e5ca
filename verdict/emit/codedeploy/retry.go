package codedeploy

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/smithy-go"
)

// final are CodeDeploy's answers that no later call can change: the deployment or the hook
// execution does not exist (or no longer accepts a status: it completed — by an earlier
// delivery whose answer was lost, by the hook Lambda, or by CodeDeploy's one-hour limit), or
// the request is malformed.
func final(err error) bool {
	var (
		noDeployment  *types.DeploymentDoesNotExistException
		noDeployID    *types.DeploymentIdRequiredException
		badDeployID   *types.InvalidDeploymentIdException
		badHookID     *types.InvalidLifecycleEventHookExecutionIdException
		badStatus     *types.InvalidLifecycleEventHookExecutionStatusException
		completed     *types.LifecycleEventAlreadyCompletedException
		unsupportedOp *types.UnsupportedActionForDeploymentTypeException
	)
	return errors.As(err, &noDeployment) || errors.As(err, &noDeployID) || errors.As(err, &badDeployID) ||
		errors.As(err, &badHookID) || errors.As(err, &badStatus) || errors.As(err, &completed) ||
		errors.As(err, &unsupportedOp)
}

// transient are error codes of a 4xx answer that a later call may not get: credentials that
// expired or a clock that drifted are renewed or corrected.
var transient = map[string]bool{"ExpiredTokenException": true, "ExpiredToken": true, "RequestExpired": true}

// Retryable says whether a failed PutLifecycleEventHookExecutionStatus may succeed later.
//
// Never: CodeDeploy's own refusals (DeploymentDoesNotExistException, DeploymentIdRequired,
// InvalidDeploymentId, InvalidLifecycleEventHookExecutionId, InvalidLifecycleEventHookExecutionStatus,
// LifecycleEventAlreadyCompletedException, UnsupportedActionForDeploymentType) and any other
// 4xx answer (AccessDeniedException, UnrecognizedClientException, a validation error): the
// request itself is wrong and repeating it changes nothing.
//
// Retried: throttling (ThrottlingException, 429 …), 5xx answers, timeouts, connections that
// failed or broke — the SDK's own classification — expired credentials and clock skew, and
// failures before any answer (credentials that could not be fetched).
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if final(err) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && transient[ae.ErrorCode()] {
		return true
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary ||
		retry.IsErrorTimeouts(retry.DefaultTimeouts).IsErrorTimeout(err) == aws.TrueTernary ||
		retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code >= 500 || code == 408 || code == 429
	}
	return true
}

// AlreadyCompleted reports whether CodeDeploy refused a status because the hook already has
// one: nothing is left to report.
func AlreadyCompleted(err error) bool {
	var completed *types.LifecycleEventAlreadyCompletedException
	return errors.As(err, &completed)
}
