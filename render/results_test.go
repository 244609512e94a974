package render_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestResults covers step results (render/results.go): a finished step's
// result is what its container wrote to its termination message, cut to
// MaxResultLength; later steps (and every finally step) read it from
// SQJ_RESULT_<STEP>, a downward-API variable over a pod annotation. A
// failed step's message says how its last pod ended.
func TestResults(t *testing.T) {
	type want struct {
		Outcome outcome
		Steps   []step
		// Annotations are the created Job's pod template's result
		// annotations; Env is its container's environment, as NAME=value
		// or NAME<-fieldPath.
		Annotations map[string]string
		Env         []string
	}
	const completed = "Reached expected number of succeeded pods"
	done := func(name, job, result string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted, Message: completed, Attempt: 1, Result: result}
	}
	runs := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1}
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	failedRun := func(index int) map[string]cond {
		return shown(v1alpha1.ReasonJobFailed, fmt.Sprintf(render.FmtJobFailed, index, "BackoffLimitExceeded"), v1alpha1.ConditionFailed, v1alpha1.ConditionStalled)
	}
	annotation := func(step string) string { return v1alpha1.ResultAnnotationPrefix + step }
	fromAnnotation := func(step string) string {
		return render.ResultEnvName(step) + "<-metadata.annotations['" + annotation(step) + "']"
	}
	// buildEnded: build's Job ended as end says; the render after it starts test.
	buildEnded := func(end func(s *fixtures.Sim)) func() *fixtures.Sim {
		return func() *fixtures.Sim {
			s := fixtures.NewSim(pipeline().Obj(), t0)
			s.Render()
			end(s.Advance(time.Minute))
			return s
		}
	}
	buildCompleted := func(result string) func() *fixtures.Sim {
		return buildEnded(func(s *fixtures.Sim) { s.Complete("pipeline-0", result) })
	}
	// buildPassedOn is the render after build completed with result: build
	// records it and test reads it.
	buildPassedOn := func(result string) want {
		return want{
			Outcome: outcome{
				Phase:      v1alpha1.PhaseRunning,
				Conditions: running(1, "test", "pipeline-1", 1, 3),
				Job:        "pipeline-1",
				Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
				Written:    true,
			},
			Steps:       []step{done("build", "pipeline-0", result), runs("test", "pipeline-1"), pending("deploy", "pipeline-2")},
			Annotations: map[string]string{annotation("build"): result},
			Env:         []string{fromAnnotation("build")},
		}
	}
	noResult := buildPassedOn("")
	noResult.Annotations, noResult.Env = nil, nil
	buildFailed := func(message string) want {
		return want{
			Outcome: outcome{
				Phase:      v1alpha1.PhaseFailed,
				Conditions: failedRun(0),
				Events:     []string{v1alpha1.ReasonJobFailed},
				Written:    true,
			},
			Steps: []step{{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Attempt: 1,
				Message: "Job has reached the specified backoff limit; " + message}, pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
		}
	}
	euros := strings.Repeat("€", 400) // 1200 bytes, 3 to a character

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"ResultFromTerminationMessage": {
			reason: "build's termination message is its result; test's Job carries it as an annotation read into SQJ_RESULT_BUILD.",
			sim:    buildCompleted("sha256:4f1c0de"),
			want:   buildPassedOn("sha256:4f1c0de"),
		},
		"EmptyMessageNoResult": {
			reason: "A step that wrote no termination message has no result, and the next step gets no variable for it.",
			sim:    buildCompleted(""),
			want:   noResult,
		},
		"PodsGoneNoResult": {
			reason: "When the step's pods are gone as it ends, it succeeds without a result.",
			sim: func() *fixtures.Sim {
				s := buildCompleted("lost")()
				s.Pods = nil
				return s
			},
			want: noResult,
		},
		"ExactlyMaxLengthKept": {
			reason: "A result of exactly MaxResultLength (1024) bytes is kept whole.",
			sim:    buildCompleted(strings.Repeat("a", v1alpha1.MaxResultLength)),
			want:   buildPassedOn(strings.Repeat("a", v1alpha1.MaxResultLength)),
		},
		"OverMaxLengthTruncated": {
			reason: "A result one byte over is cut to 1024 bytes, ending in the truncation marker; the next step gets the cut result.",
			sim:    buildCompleted(strings.Repeat("a", v1alpha1.MaxResultLength+1)),
			want:   buildPassedOn(strings.Repeat("a", v1alpha1.MaxResultLength-len(render.TruncatedMarker)) + render.TruncatedMarker),
		},
		"TruncatedAtCharacterBoundary": {
			reason: "A multi-byte result is cut at a character boundary, so it stays valid UTF-8: 336 three-byte characters and the marker, 1022 bytes.",
			sim:    buildCompleted(euros),
			want:   buildPassedOn(strings.Repeat("€", 336) + render.TruncatedMarker),
		},
		"ResultsAccumulate": {
			reason: "deploy reads every earlier step's result, in step order.",
			sim: func() *fixtures.Sim {
				s := buildCompleted("b1")()
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-1", "t1")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(2, "deploy", "pipeline-2", 2, 3),
					Job:        "pipeline-2",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:       []step{done("build", "pipeline-0", "b1"), done("test", "pipeline-1", "t1"), runs("deploy", "pipeline-2")},
				Annotations: map[string]string{annotation("build"): "b1", annotation("test"): "t1"},
				Env:         []string{fromAnnotation("build"), fromAnnotation("test")},
			},
		},
		"FinallyReadsEveryStepResult": {
			reason: "A finally step reads the results of all the steps.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build", "test").Finally("notify").Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-0", "b1").Render()
				return s.Advance(time.Minute).Complete("pipeline-1", "t1")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: shown(v1alpha1.ReasonFinallyRunning, fmt.Sprintf(render.FmtFinallyAfter, 2, "finally step 0 (notify)", "pipeline-f0"),
						v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling),
					Job:     "pipeline-f0",
					Events:  []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written: true,
				},
				Steps:       []step{done("build", "pipeline-0", "b1"), done("test", "pipeline-1", "t1")},
				Annotations: map[string]string{annotation("build"): "b1", annotation("test"): "t1"},
				Env:         []string{fromAnnotation("build"), fromAnnotation("test")},
			},
		},
		"HyphenatedStepName": {
			reason: "A step name's hyphens become underscores in its variable: unit-tests is SQJ_RESULT_UNIT_TESTS.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("unit-tests", "deploy").Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-0", "ok")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "deploy", "pipeline-1", 1, 2),
					Job:        "pipeline-1",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:       []step{done("unit-tests", "pipeline-0", "ok"), runs("deploy", "pipeline-1")},
				Annotations: map[string]string{annotation("unit-tests"): "ok"},
				Env:         []string{"SQJ_RESULT_UNIT_TESTS<-metadata.annotations['results.batch.example.com/unit-tests']"},
			},
		},
		"ContainerOwnVariableWins": {
			reason: "A step that sets SQJ_RESULT_BUILD itself keeps its own value; the annotation is still set.",
			sim: func() *fixtures.Sim {
				w := pipeline()
				w.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "SQJ_RESULT_BUILD", Value: "mine"}}
				s := fixtures.NewSim(w.Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-0", "theirs")
			},
			want: func() want {
				w := buildPassedOn("theirs")
				w.Env = []string{"SQJ_RESULT_BUILD=mine"}
				return w
			}(),
		},
		"LatestPodOfTheStepsPhaseTells": {
			reason: "Of several pods, the result is the latest succeeded pod's: an earlier succeeded pod and a later failed one do not count.",
			sim: func() *fixtures.Sim {
				s := buildCompleted("final")()
				succeeded := s.Pods[len(s.Pods)-1]
				earlier := *succeeded.DeepCopy()
				earlier.Name, earlier.CreationTimestamp = "pipeline-0-early", metav1.NewTime(t0.Add(-time.Minute))
				earlier.Status.ContainerStatuses[0].State.Terminated.Message = "stale"
				later := *succeeded.DeepCopy()
				later.Name, later.CreationTimestamp = "pipeline-0-late", metav1.NewTime(t0.Add(time.Minute))
				later.Status.Phase = corev1.PodFailed
				later.Status.ContainerStatuses[0].State.Terminated.Message = "from a failed pod"
				s.Pods = append(s.Pods, earlier, later)
				return s
			},
			want: buildPassedOn("final"),
		},
		"FailedStepKeepsResultAndExitCode": {
			reason: "A failed step records its last pod's termination message as its result too, and says how that pod ended.",
			sim: buildEnded(func(s *fixtures.Sim) {
				s.Fail("pipeline-0", "BackoffLimitExceeded", 3, "")
				s.Pods[len(s.Pods)-1].Status.ContainerStatuses[0].State.Terminated.Message = "partial"
			}),
			want: func() want {
				w := buildFailed("container build of pod pipeline-0-0 exited with code 3 (Error)")
				w.Steps[0].Result = "partial"
				return w
			}(),
		},
		"OOMKilledDetail": {
			reason: "An OOMKilled container is named as such in the failed step's message.",
			sim:    buildEnded(func(s *fixtures.Sim) { s.Fail("pipeline-0", "BackoffLimitExceeded", 137, "") }),
			want:   buildFailed("container build of pod pipeline-0-0 was OOMKilled (exit code 137)"),
		},
		"EvictedPodDetail": {
			reason: "An evicted pod is told by the eviction, whatever its container's exit code.",
			sim:    buildEnded(func(s *fixtures.Sim) { s.Fail("pipeline-0", "BackoffLimitExceeded", 0, "Evicted") }),
			want:   buildFailed("pod pipeline-0-0 was Evicted: The node was low on resource: memory."),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps)}
			if d.Job != nil {
				for k, v := range d.Job.Spec.Template.Annotations {
					if strings.HasPrefix(k, v1alpha1.ResultAnnotationPrefix) {
						if got.Annotations == nil {
							got.Annotations = map[string]string{}
						}
						got.Annotations[k] = v
					}
				}
				for _, env := range d.Job.Spec.Template.Spec.Containers[0].Env {
					switch {
					case env.ValueFrom != nil && env.ValueFrom.FieldRef != nil:
						got.Env = append(got.Env, *env.Name+"<-"+*env.ValueFrom.FieldRef.FieldPath)
					case env.Value != nil:
						got.Env = append(got.Env, *env.Name+"="+*env.Value)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
