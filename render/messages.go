package render

// Message formats, named once: conditions, step entries and events use
// these, and the tests compare whole messages made from them.
const (
	fmtStep        = "step %d (%s)"
	fmtFinallyStep = "finally step %d (%s)"

	// Conditions, by state.
	fmtRunning          = "step %d (%s) is running as Job %s; %d of %d steps succeeded"
	fmtQueuedRun        = "%s is queued: %s; %d of %d steps succeeded"
	fmtSuspendedAt      = "the run is suspended (spec.suspend) at %s"
	msgSuspendedAtStart = "the run is suspended (spec.suspend) before its first step"
	// fmtAwaitingApproval: the run waits at a gated step (approval.go).
	fmtAwaitingApproval = "%s waits for approval: add %q to spec.approvedSteps (kubectl sequentialjob approve <run> --step %s)"
	fmtBlocked          = "%s cannot start: Job %s exists and is not controlled by this SequentialJob; delete or rename that Job"
	fmtWaiting          = "%s is waiting: %s"
	fmtRetrying         = "%s is waiting: the controller retries an error of the apiserver (reported as Failed if it persists for %s): %s"
	fmtFinallyAfter     = "all %d steps ended; %s is running as Job %s"
	fmtFinallyAfterFail = "%s failed (%s); %s is running as Job %s"
	fmtAllSucceeded     = "all %d steps succeeded"
	fmtAllowedFailures  = "all %d steps ran; %d failed and %s allowed to (onFailure: Continue): %s"
	// fmtSucceededSkipping: the run succeeded, and steps were skipped
	// (their when was false).
	fmtSucceededSkipping = "all %d steps ended: the run succeeded; %d skipped (when was false): %s"

	// Why the run failed.
	fmtDeadlineStopped = "the run deadline (spec.runDeadlineSeconds) passed: the run stopped at %s, which %s"
	msgWasRunning      = "was running; its Job was stopped"
	msgHadNotStarted   = "had not started"
	fmtFinallyFailed   = "%s failed: Job %s failed: %s"
	fmtInvalidStep     = "step %d (%s) is invalid, so the run stopped before it: %s"
	fmtJobRejected     = "step %d (%s) failed: the apiserver rejected its Job %s: %s"
	// fmtClaimRejected is the rejection of a step whose volume claim the
	// apiserver refused: the claim, its template and the apiserver's words.
	fmtClaimRejected  = "its volume claim %s (spec.volumeClaimTemplates %q) is invalid: %s"
	fmtCannotStart    = "step %d (%s) cannot start: %s"
	fmtInvalidFinally = "%s is invalid, so the run stopped before it: %s"
	fmtWhenFailedStep = "%s failed: %s"
	// fmtJobFailed is the seed's "Job 1 failed: BackoffLimitExceeded".
	fmtJobFailed = "Job %d failed: %s"

	// Step entries.
	fmtJobNameTaken         = "Job %s exists and is not controlled by this SequentialJob"
	fmtStepLimit            = "the run has started %d steps, the most one run may start; edits added more"
	fmtAwaitingStep         = "waits for approval: its Job is created once spec.approvedSteps lists %q"
	fmtStepSuspended        = "the run is suspended: Job %s is suspended and its pods deleted; they start again when the run resumes"
	fmtQueuedStepSuspended  = "the run is suspended: Job %s, admitted by LocalQueue %s, runs on (Kueue decides its suspension); no later step starts until the run resumes"
	fmtStoppedByDeadline    = "stopped: the run deadline (spec.runDeadlineSeconds: %d) passed while it ran"
	fmtNeverStartedDeadline = "never started: the run deadline (spec.runDeadlineSeconds: %d) passed first"
	fmtQueued               = "Job %s waits, suspended, for admission to LocalQueue %s"
	fmtJobDeleted           = "Job %s was deleted before it finished"
	fmtLost                 = "Job %s and the record of its step are gone"
	fmtPodsElsewhere        = "the Job ran under %s (spec.managedBy), so its pods are not in this cluster: no result or pod detail"
	msgRemovedBeforeRetry   = "its step was removed from spec when the run was retried, so the run goes on without it"
	msgRemovedBeforeAttempt = "its step was removed from spec before its next attempt started, so the run goes on without it"
)

// A retry from spec.retryFrom (retry.go): the Retry and RetryIgnored events.
const (
	fmtRetryFrom        = "spec.retryToken changed to %q: attempt %d of the run starts again from %s (spec.retryFrom: %s); the steps before it keep their results, and the finally steps run again"
	fmtRetryFromIgnored = "spec.retryToken changed to %q while the run is %s: only a finished run is retried from spec.retryFrom (%s), so it starts nothing"
)

// Approval gates (approval.go): the events.
const (
	fmtAwaitingEvent = "%s waits for approval (stepSettings approval: Required); the run deadline does not count the wait"
	fmtApprovedEvent = "%s was approved (spec.approvedSteps): its Job is created"
)

const fmtExpired = "the run finished %s at %s and spec.ttlSecondsAfterFinished (%d) has passed: deleting the SequentialJob and its Jobs"

// A step's when (when.go).
const (
	// fmtWhenFalse is a skipped step's message: its reason is
	// ConditionNotMet.
	fmtWhenFalse = "when %q was false"
	// fmtWhenInvalid is the message of a step whose when is invalid
	// (reason InvalidStep), with one of the errors below.
	fmtWhenInvalid = "when %q: %v"
	// fmtWhenEvalFailed is the message of a step whose when failed as it
	// was evaluated (reason WhenEvaluationFailed).
	fmtWhenEvalFailed = "when %q could not be evaluated: %v"
	// fmtStepSkipped is the StepSkipped event's message.
	fmtStepSkipped = "%s was skipped: %s"

	fmtWhenCompile     = "does not compile: %v"
	fmtWhenNotBool     = "is of type %v, not bool"
	fmtWhenUnknownStep = "names step %q, which is not a step of this run"
	fmtWhenNotBefore   = "names step %q, which does not run before this step"
	fmtWhenCost        = "may cost up to %d, more than the limit of %d (estimated for the largest inputs the API allows)"
	msgWhenDynamicStep = "indexes steps with an expression: name the step in quotes, as steps['build']"
)
