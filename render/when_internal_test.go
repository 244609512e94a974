package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// TestWhenJudge: what a when expression says at a step's turn, for every
// kind of expression: the verdict, and the whole error a user reads.
func TestWhenJudge(t *testing.T) {
	before := []v1alpha1.StepStatus{
		{Name: "build", Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted, Result: "42", Attempt: 1},
		{Name: "unit-tests", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Result: "none", Attempt: 2,
			OnFailure: v1alpha1.OnFailureContinue},
		{Name: "lint", Phase: v1alpha1.PhaseSkipped, Reason: v1alpha1.ReasonConditionNotMet},
	}
	scope := whenScope{before: before, known: map[string]bool{"build": true, "unit-tests": true, "lint": true, "deploy": true, "later": true},
		run: WhenRun{Attempt: 2, Labels: map[string]string{"env": "prod"}, Annotations: map[string]string{"example.com/dry": "true"}}}
	failedScope := scope
	failedScope.run.Failed = true

	cases := []struct {
		name    string
		reason  string
		scope   whenScope
		expr    string
		want    whenVerdict
		wantErr string
	}{
		{name: "true", reason: "a true expression runs the step", expr: "steps.build.phase == 'Succeeded'", want: whenRun},
		{name: "false", reason: "a false expression skips it", expr: "steps.build.result != '42'", want: whenSkip},
		{name: "no when", reason: "no expression: the step runs", expr: "", want: whenRun},
		{name: "name with dash", reason: "steps['unit-tests'] reaches a name with '-'", expr: "steps['unit-tests'].attempt == 2 && steps['unit-tests'].reason == 'BackoffLimitExceeded'", want: whenRun},
		{name: "skipped step seen", reason: "a skipped step is seen as Skipped, its result empty", expr: "steps.lint.phase == 'Skipped' && steps.lint.result == '' && steps.lint.attempt == 0", want: whenRun},
		{name: "result as int", reason: "results are strings; int() converts", expr: "int(steps.build.result) > 40", want: whenRun},
		{name: "run variables", reason: "the run's attempt, labels and annotations", expr: "run.attempt == 2 && run.labels['env'] == 'prod' && run.annotations['example.com/dry'] == 'true' && !run.failed", want: whenRun},
		{name: "absent label", reason: "a label that is absent, tested with in", expr: "'team' in run.labels", want: whenSkip},
		{name: "run failed", reason: "a finally step's run.failed", scope: failedScope, expr: "run.failed", want: whenRun},
		{name: "string ext", reason: "the strings extension, as in Kubernetes CEL", expr: "steps.build.result.trim().lowerAscii() == '42'", want: whenRun},
		{name: "macro over steps", reason: "steps indexed by the variable of a macro over steps names only steps before", expr: "steps.all(s, steps[s].phase != 'Failed')", want: whenSkip},
		{name: "exists", reason: "whether a step ran before", expr: "steps.exists(s, s == 'lint') && !('deploy' in steps)", want: whenRun},
		{name: "does not compile", reason: "a syntax error", expr: "steps.build.phase ==", want: whenInvalid,
			wantErr: "does not compile: ERROR: <input>:1:21: Syntax error: mismatched input '<EOF>' expecting"},
		{name: "not bool", reason: "a string is not a condition", expr: "steps.build.result", want: whenInvalid,
			wantErr: "is of type string, not bool"},
		{name: "unknown field", reason: "a typo in a variable's field is a type error", expr: "steps.build.phaze == 'x'", want: whenInvalid,
			wantErr: "does not compile: ERROR: <input>:1:12: undefined field 'phaze'"},
		{name: "unknown variable", reason: "only steps and run exist", expr: "job.failed", want: whenInvalid,
			wantErr: "does not compile: ERROR: <input>:1:1: undeclared reference to 'job' (in container '')"},
		{name: "unknown step", reason: "a step the run does not have", expr: "steps.biuld.phase == 'Succeeded'", want: whenInvalid,
			wantErr: `names step "biuld", which is not a step of this run`},
		{name: "later step", reason: "a step of the run that runs after this one", expr: "steps['later'].phase == 'Succeeded'", want: whenInvalid,
			wantErr: `names step "later", which does not run before this step`},
		{name: "dynamic index", reason: "steps indexed by an expression could name any step", expr: "steps[run.labels['step']].phase == 'Succeeded'", want: whenInvalid,
			wantErr: msgWhenDynamicStep},
		{name: "cost", reason: "nested iteration over the annotations may cost more than the apiserver's per-call limit", expr: "run.annotations.all(a, run.annotations.all(b, a == b))", want: whenInvalid,
			wantErr: "may cost up to 2542622212099, more than the limit of 1000000 (estimated for the largest inputs the API allows)"},
		{name: "runtime error", reason: "int() of a result that is not a number fails at evaluation", expr: "int(steps['unit-tests'].result) > 0", want: whenError,
			wantErr: "type conversion error from 'string' to 'int'"},
		{name: "missing key at runtime", reason: "an absent label read by index fails at evaluation", expr: "run.labels['team'] == 'a'", want: whenError,
			wantErr: "no such key: team"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.scope
			if s.known == nil {
				s = scope
			}
			got, err := s.judge(tc.expr)
			assert.Equal(t, tc.want, got, tc.reason)
			switch {
			case tc.wantErr == "":
				assert.NoError(t, err, tc.reason)
			case err == nil:
				t.Errorf("%s: want error %q, got none", tc.reason, tc.wantErr)
			case strings.HasSuffix(tc.wantErr, "expecting"):
				assert.True(t, strings.HasPrefix(err.Error(), tc.wantErr), "%s: got %q", tc.reason, err)
			default:
				assert.Equal(t, tc.wantErr, firstLine(err), tc.reason)
			}
		})
	}
}

func firstLine(err error) string { return strings.SplitN(err.Error(), "\n", 2)[0] }

// TestWhenCacheIsBounded: the cache of compiled programs never holds more
// than whenCacheSize expressions, and a program is the same whether it
// came from the cache or not.
func TestWhenCacheIsBounded(t *testing.T) {
	first := compileWhen("run.attempt == 1")
	for i := range whenCacheSize + 10 {
		compileWhen(fmt.Sprintf("run.attempt == %d", i+2))
	}
	whenCache.Lock()
	size, order := len(whenCache.programs), len(whenCache.order)
	whenCache.Unlock()
	assert.LessOrEqual(t, size, whenCacheSize)
	assert.Equal(t, size, order)
	again := compileWhen("run.attempt == 1")
	assert.NotSame(t, first, again, "the oldest entry was evicted")
	ok, err := whenScope{run: WhenRun{Attempt: 1}}.evaluate(again)
	assert.NoError(t, err)
	assert.True(t, ok)
}

// BenchmarkWhenCompile is one expression's compile, type check and cost
// estimate (a cache miss), and one evaluation of the compiled program.
func BenchmarkWhenCompile(b *testing.B) {
	const expr = "steps['step-0'].phase == 'Succeeded' && !('salt' in run.labels)"
	b.Run("compile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p := compileWhenUncached(expr); p.err != nil {
				b.Fatal(p.err)
			}
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		p := compileWhen(expr)
		scope := whenScope{before: []v1alpha1.StepStatus{{Name: "step-0", Phase: v1alpha1.PhaseSucceeded}}, run: WhenRun{Labels: map[string]string{}}}
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := scope.evaluate(p); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
