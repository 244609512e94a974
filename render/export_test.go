package render

// The message formats of messages.go, for the tests of package render_test,
// which compare whole messages (the fixtures they build with import render,
// so they cannot be internal tests).
const (
	FmtRunning          = fmtRunning
	FmtQueuedRun        = fmtQueuedRun
	FmtSuspendedAt      = fmtSuspendedAt
	FmtAwaitingApproval = fmtAwaitingApproval
	FmtAwaitingStep     = fmtAwaitingStep
	FmtAwaitingEvent    = fmtAwaitingEvent
	FmtApprovedEvent    = fmtApprovedEvent
	FmtFinallyAfter     = fmtFinallyAfter
	FmtFinallyAfterFail = fmtFinallyAfterFail
	FmtAllSucceeded     = fmtAllSucceeded
	FmtAllowedFailures  = fmtAllowedFailures

	FmtDeadlineStopped = fmtDeadlineStopped
	MsgWasRunning      = msgWasRunning
	MsgHadNotStarted   = msgHadNotStarted
	FmtFinallyFailed   = fmtFinallyFailed
	FmtInvalidStep     = fmtInvalidStep
	FmtJobFailed       = fmtJobFailed

	FmtStepSuspended        = fmtStepSuspended
	FmtQueuedStepSuspended  = fmtQueuedStepSuspended
	FmtStoppedByDeadline    = fmtStoppedByDeadline
	FmtNeverStartedDeadline = fmtNeverStartedDeadline
	FmtQueued               = fmtQueued
	MsgRemovedBeforeRetry   = msgRemovedBeforeRetry
	FmtRetryFrom            = fmtRetryFrom
	MsgRemovedBeforeAttempt = msgRemovedBeforeAttempt
	FmtSucceededSkipping    = fmtSucceededSkipping
	FmtRetryFromIgnored     = fmtRetryFromIgnored

	TruncatedMarker = truncatedMarker
)
