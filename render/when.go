package render

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// The variables of a step's `when` (spec.stepSettings[].when), named here
// and nowhere else; docs/when.md documents them with examples.
//
//	steps['<name>'].phase    string  Succeeded, Failed or Skipped
//	steps['<name>'].reason   string  the step's reason, e.g. Completed, BackoffLimitExceeded, ConditionNotMet
//	steps['<name>'].result   string  the step's recorded result (its termination message); "" when skipped
//	steps['<name>'].attempt  int     the step's attempt: 1, plus one per retry; 0 when it never had a Job
//	run.attempt              int     the run's attempt (status.attempt)
//	run.failed               bool    an entry before this one failed the run (finally steps read it)
//	run.labels               map(string, string)  the SequentialJob's labels
//	run.annotations          map(string, string)  the SequentialJob's annotations
//
// steps holds exactly the entries that run before the step: for a step,
// the steps before it in the run's record; for a finally step, every step
// and the finally steps before it. Step names are DNS labels, which may
// hold "-", so steps['unit-tests'] is the general form; steps.build works
// for names without "-".
const (
	whenVarSteps = "steps"
	whenVarRun   = "run"
)

// WhenStep is one earlier step, as a when expression sees it.
type WhenStep struct {
	Phase   string `cel:"phase"`
	Reason  string `cel:"reason"`
	Result  string `cel:"result"`
	Attempt int64  `cel:"attempt"`
}

// WhenRun is the run, as a when expression sees it.
type WhenRun struct {
	Attempt     int64             `cel:"attempt"`
	Failed      bool              `cel:"failed"`
	Labels      map[string]string `cel:"labels"`
	Annotations map[string]string `cel:"annotations"`
}

// WhenCostLimit bounds a when expression's cost, both as estimated when it
// is checked (for the largest inputs the API allows) and as measured when
// it is evaluated. It is the apiserver's limit for one call of a CRD
// validation rule or a ValidatingAdmissionPolicy expression
// (k8s.io/apiserver/pkg/apis/cel.PerCallLimit, 1M): users already know
// what fits, a when is evaluated once per step (far less often than an
// admission rule), and at about a microsecond per thousand cost units it
// bounds one evaluation to about a millisecond of the controller's time.
const WhenCostLimit = uint64(celconfig.PerCallLimit)

// Size hints for the cost estimate: the largest inputs the API allows.
const (
	// whenMaxEntries bounds steps: every entry status.steps and
	// status.finally can hold.
	whenMaxEntries = v1alpha1.MaxRecordedSteps + v1alpha1.MaxRecordedFinallySteps
	// whenMaxShortString bounds a phase or a reason, and a label value.
	whenMaxShortString = 1024
	// whenMaxMetadata bounds how many labels and annotations there are,
	// and an annotation's value: the apiserver's limit on the total size
	// of an object's annotations, 256 KiB. (Labels have no such limit; the
	// object's size bounds them, and 256 Ki is as good a bound.)
	whenMaxMetadata = 256 * 1024
	// whenMaxKey bounds a label or annotation key: a 253-character DNS
	// prefix, "/", and a 63-character name. A label value has 63.
	whenMaxKey        = 253 + 1 + 63
	whenMaxLabelValue = 63
)

// whenEstimator gives the cost estimate the sizes of the variables.
// Without them CEL assumes any size, and every expression that iterates
// or compares a string would be refused.
type whenEstimator struct{}

func (whenEstimator) EstimateSize(node checker.AstNode) *checker.SizeEstimate {
	path := node.Path()
	n, ok := whenSizes[strings.Join(path, ".")]
	switch {
	case ok:
	case len(path) > 1 && path[0] == whenVarSteps && path[len(path)-1] == "result":
		n = v1alpha1.MaxResultLength
	case len(path) > 1 && path[0] == whenVarSteps:
		n = whenMaxShortString // a key (step name), a phase, a reason
	default:
		return nil
	}
	return &checker.SizeEstimate{Min: 0, Max: n}
}

// whenSizes are the sizes of the variables' parts, by cost path: a map's
// entries, its keys (@keys) and its values (@values).
var whenSizes = map[string]uint64{
	whenVarSteps:                        whenMaxEntries,
	whenVarRun + ".labels":              whenMaxMetadata,
	whenVarRun + ".labels.@keys":        whenMaxKey,
	whenVarRun + ".labels.@values":      whenMaxLabelValue,
	whenVarRun + ".annotations":         whenMaxMetadata,
	whenVarRun + ".annotations.@keys":   whenMaxKey,
	whenVarRun + ".annotations.@values": whenMaxMetadata,
}

func (whenEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// whenProgram is one compiled and checked expression.
type whenProgram struct {
	program cel.Program
	// names are the steps the expression names as steps.<name> or
	// steps['<name>'], in order of appearance.
	names []string
	// err is why the expression is invalid on its own: it does not
	// compile, is not a bool, indexes steps with an expression, or may
	// cost too much.
	err error
}

var whenEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[WhenStep](), reflect.TypeFor[WhenRun](), ext.ParseStructTags(true)),
		ext.Strings(),
		cel.Variable(whenVarSteps, cel.MapType(cel.StringType, cel.ObjectType("render.WhenStep"))),
		cel.Variable(whenVarRun, cel.ObjectType("render.WhenRun")),
	)
})

// whenCacheSize bounds the cache of compiled expressions. Compiling costs
// tens of microseconds; a cache miss only costs that again.
const whenCacheSize = 256

// whenCache holds compiled programs by expression text: the program depends
// on the text alone. It is bounded (the oldest entry goes first) and reads
// no clock, so render stays a pure function of its inputs.
var whenCache = struct {
	sync.Mutex
	programs map[string]*whenProgram
	order    []string
}{programs: map[string]*whenProgram{}}

// compileWhen is the compiled expr, from the cache when it was compiled
// before.
func compileWhen(expr string) *whenProgram {
	whenCache.Lock()
	p, ok := whenCache.programs[expr]
	whenCache.Unlock()
	if ok {
		return p
	}
	p = compileWhenUncached(expr)
	whenCache.Lock()
	defer whenCache.Unlock()
	if _, ok := whenCache.programs[expr]; !ok {
		if len(whenCache.order) >= whenCacheSize {
			delete(whenCache.programs, whenCache.order[0])
			whenCache.order = whenCache.order[1:]
		}
		whenCache.programs[expr] = p
		whenCache.order = append(whenCache.order, expr)
	}
	return p
}

func compileWhenUncached(expr string) *whenProgram {
	env, err := whenEnv()
	if err != nil {
		panic(fmt.Sprintf("render: the when environment: %v", err)) // a programming error
	}
	checked, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return &whenProgram{err: fmt.Errorf(fmtWhenCompile, issues.Err())}
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		return &whenProgram{err: fmt.Errorf(fmtWhenNotBool, checked.OutputType())}
	}
	names, err := stepNamesIn(checked.NativeRep().Expr())
	if err != nil {
		return &whenProgram{err: err}
	}
	estimate, err := env.EstimateCost(checked, whenEstimator{})
	if err != nil {
		return &whenProgram{err: fmt.Errorf(fmtWhenCompile, err)}
	}
	if estimate.Max > WhenCostLimit {
		return &whenProgram{err: fmt.Errorf(fmtWhenCost, estimate.Max, WhenCostLimit)}
	}
	program, err := env.Program(checked, cel.CostLimit(WhenCostLimit))
	if err != nil {
		return &whenProgram{err: fmt.Errorf(fmtWhenCompile, err)}
	}
	return &whenProgram{program: program, names: names}
}

// stepNamesIn are the step names expr selects from steps. steps indexed by
// anything but a string literal, or a variable of a macro over steps
// itself (steps.all(s, steps[s].phase == 'Succeeded')), could name any
// step, and the check could not say whether that step runs before: it is
// refused.
func stepNamesIn(expr celast.Expr) ([]string, error) {
	var names []string
	var bad error
	isSteps := func(e celast.Expr) bool {
		return e.Kind() == celast.IdentKind && e.AsIdent() == whenVarSteps
	}
	overSteps := map[string]bool{}
	celast.PostOrderVisit(expr, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.ComprehensionKind && isSteps(e.AsComprehension().IterRange()) {
			overSteps[e.AsComprehension().IterVar()] = true
		}
	}))
	celast.PostOrderVisit(expr, celast.NewExprVisitor(func(e celast.Expr) {
		name, err := stepNameOf(e, isSteps, overSteps)
		switch {
		case err != nil:
			bad = err
		case name != "":
			names = append(names, name)
		}
	}))
	if bad != nil {
		return nil, bad
	}
	return slices.Compact(names), nil
}

// stepNameOf is the step e selects from steps (steps.<name>,
// steps['<name>']), or "" when e selects none.
func stepNameOf(e celast.Expr, isSteps func(celast.Expr) bool, overSteps map[string]bool) (string, error) {
	if e.Kind() == celast.SelectKind {
		if sel := e.AsSelect(); isSteps(sel.Operand()) {
			return sel.FieldName(), nil
		}
		return "", nil
	}
	if e.Kind() != celast.CallKind {
		return "", nil
	}
	call := e.AsCall()
	if (call.FunctionName() != operators.Index && call.FunctionName() != operators.OptIndex) || len(call.Args()) != 2 || !isSteps(call.Args()[0]) {
		return "", nil
	}
	key := call.Args()[1]
	if key.Kind() == celast.IdentKind && overSteps[key.AsIdent()] {
		return "", nil
	}
	if key.Kind() == celast.LiteralKind {
		if s, ok := key.AsLiteral().(types.String); ok {
			return string(s), nil
		}
	}
	return "", errors.New(msgWhenDynamicStep)
}

// whenScope is what the entry whose when is checked or evaluated can see.
type whenScope struct {
	// before are the entries that run before it, in run order.
	before []v1alpha1.StepStatus
	// known are the names of every step of the run: the record and spec.
	known map[string]bool
	run   WhenRun
}

// check says whether p names only steps that run before the entry.
func (s whenScope) check(p *whenProgram) error {
	if p.err != nil {
		return p.err
	}
	for _, name := range p.names {
		if !slices.ContainsFunc(s.before, func(e v1alpha1.StepStatus) bool { return e.Name == name }) {
			if s.known[name] {
				return fmt.Errorf(fmtWhenNotBefore, name)
			}
			return fmt.Errorf(fmtWhenUnknownStep, name)
		}
	}
	return nil
}

// evaluate runs a checked program on the scope's values.
func (s whenScope) evaluate(p *whenProgram) (bool, error) {
	steps := make(map[string]WhenStep, len(s.before))
	for _, e := range s.before {
		if e.Name != "" {
			steps[e.Name] = WhenStep{Phase: string(e.Phase), Reason: e.Reason, Result: e.Result, Attempt: int64(e.Attempt)}
		}
	}
	out, _, err := p.program.Eval(map[string]any{whenVarSteps: steps, whenVarRun: s.run})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf(fmtWhenNotBool, out.Type())
	}
	return b, nil
}

// whenVerdict is what a step's when says at its turn.
type whenVerdict int

const (
	whenRun     whenVerdict = iota // no when, or true: the step starts
	whenSkip                       // false: the step is skipped
	whenInvalid                    // the expression is invalid: InvalidStep
	whenError                      // evaluating it failed: the step fails
)

// judge checks and evaluates expr for the entry at its turn; err explains
// whenInvalid and whenError.
func (s whenScope) judge(expr string) (whenVerdict, error) {
	if expr == "" {
		return whenRun, nil
	}
	p := compileWhen(expr)
	if err := s.check(p); err != nil {
		return whenInvalid, err
	}
	ok, err := s.evaluate(p)
	switch {
	case err != nil:
		return whenError, err
	case !ok:
		return whenSkip, nil
	}
	return whenRun, nil
}

// whenOf is the when of the step called name, or "".
func whenOf(sj *v1alpha1.SequentialJob, name string) string {
	for _, s := range sj.Spec.StepSettings {
		if s.Name == name {
			return s.When
		}
	}
	return ""
}

// whenScopeOf is the scope of entry index of one list of d.
func (d *decision) whenScopeOf(sj *v1alpha1.SequentialJob, finally bool, index int) whenScope {
	var before []v1alpha1.StepStatus
	if finally {
		before = append(slices.Clone(d.steps), d.finally[:index]...)
	} else {
		before = d.steps[:index]
	}
	known := map[string]bool{}
	for _, list := range [][]v1alpha1.StepStatus{d.steps, d.finally} {
		for _, e := range list {
			known[e.Name] = true
		}
	}
	run := WhenRun{Attempt: int64(d.attempt), Labels: sj.Labels, Annotations: sj.Annotations}
	if run.Labels == nil {
		run.Labels = map[string]string{}
	}
	if run.Annotations == nil {
		run.Annotations = map[string]string{}
	}
	run.Failed = slices.ContainsFunc(before, failedTheRun)
	return whenScope{before: before, known: known, run: run}
}

// checkWhens fails, with InvalidStep, every pending entry whose when is
// invalid for where it stands in the run. It runs when the dry-run does:
// before the first step starts and after every edit, so an invalid
// expression fails the run before anything runs that it would stop.
func (d *decision) checkWhens(sj *v1alpha1.SequentialJob, now metav1.Time) {
	for _, finally := range []bool{false, true} {
		entries := d.list(finally)
		for i := range entries {
			expr := whenOf(sj, entries[i].Name)
			if entries[i].Phase != v1alpha1.PhasePending || expr == "" {
				continue
			}
			if err := d.whenScopeOf(sj, finally, i).check(compileWhen(expr)); err != nil {
				invalidWhen(&entries[i], expr, err, now)
			}
		}
	}
}

func invalidWhen(step *v1alpha1.StepStatus, expr string, err error, now metav1.Time) {
	step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonInvalidStep, &now
	step.Message = fmt.Sprintf(fmtWhenInvalid, expr, err)
}

// whenTurn applies the when of the pending entry at its turn: it reports
// whether the entry starts; otherwise it is recorded skipped or failed.
func (d *decision) whenTurn(sj *v1alpha1.SequentialJob, finally bool, index int, now metav1.Time) bool {
	step := &d.list(finally)[index]
	expr := whenOf(sj, step.Name)
	verdict, err := d.whenScopeOf(sj, finally, index).judge(expr)
	switch verdict {
	case whenSkip:
		skipStep(step, expr, now)
	case whenInvalid:
		invalidWhen(step, expr, err, now)
	case whenError:
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonWhenEvaluationFailed, &now
		step.Message = fmt.Sprintf(fmtWhenEvalFailed, expr, err)
		*step = withOnFailure(sj, *step)
	default:
		return true
	}
	return false
}

func skipStep(step *v1alpha1.StepStatus, expr string, now metav1.Time) {
	step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseSkipped, v1alpha1.ReasonConditionNotMet, &now
	step.Message = fmt.Sprintf(fmtWhenFalse, expr)
	step.Result = ""
}
