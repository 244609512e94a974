package gitops_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

// healthWant is what Flux (kstatus) and Argo CD must say about a fixture.
type healthWant struct {
	kstatus status.Status
	argo    string
	// argoMessage is the message Argo CD shows next to the health: a literal,
	// or "condition:<Type>" for the message of that status condition (the
	// controller's own words, as kubectl describe shows them).
	argoMessage string
}

const lagMessage = "Waiting for the controller to observe generation 2 (observed 1)"

var healthWants = map[string]healthWant{
	"step-0-starting":             {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-0-running":              {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-0-success-criteria-met": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-0-failure-target":       {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-1-starting":             {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"spec-changed-while-running":  {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"spec-changed-next-step":      {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"running-generation-lags":     {status.InProgressStatus, "Progressing", lagMessage},
	"all-succeeded":               {status.CurrentStatus, "Healthy", "condition:Available"},
	"finished-job-deleted":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"succeeded-generation-lags":   {status.InProgressStatus, "Progressing", lagMessage},
	"step-1-failed":               {status.FailedStatus, "Degraded", "Job 1 failed: BackoffLimitExceeded"},
	"running-job-deleted":         {status.FailedStatus, "Degraded", "Job 0 failed: JobDeleted"},
	"failed-generation-lags":      {status.InProgressStatus, "Progressing", lagMessage},
	// The controller retries these by itself: waiting, not broken.
	"service-account-missing":       {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"service-account-created":       {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"shared-template-step-starting": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"reconciliation-error":          {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"transient-error":               {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"foreign-job-blocks":            {status.FailedStatus, "Degraded", "condition:Stalled"},
	"inserted-step-starts":          {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"inserted-after-starts":         {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"removed-step-still-running":    {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"removed-pending-step-succeeds": {status.CurrentStatus, "Healthy", "condition:Available"},
	"reordered-steps-run":           {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"renamed-step-starts":           {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"edit-after-success":            {status.CurrentStatus, "Healthy", "condition:Available"},
	"re-added-step":                 {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"job-without-status-entry":      {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"invalid-step":                  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"job-rejected":                  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"invalid-edit-mid-run":          {status.FailedStatus, "Degraded", "condition:Stalled"},
	"complete-job-deleted":          {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"running-job-being-deleted":     {status.FailedStatus, "Degraded", "Job 0 failed: JobDeleted"},
	"finalizer-released":            {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	// Step controls. A suspended run is Suspended in Argo CD and not Current
	// for kstatus (Reconciling=True), so a Flux wait does not pass it.
	"step-settings-step-starting":     {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"allowed-failure-goes-on":         {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"succeeded-with-allowed-failures": {status.CurrentStatus, "Healthy", "condition:Available"},
	"suspended-mid-step":              {status.InProgressStatus, "Suspended", "condition:Suspended"},
	"suspended-between-steps":         {status.InProgressStatus, "Suspended", "condition:Suspended"},
	"resumed":                         {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"claims-step-0-starting":          {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"claim-rejected":                  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"claims-deleted-succeeded":        {status.CurrentStatus, "Healthy", "condition:Available"},
	"claims-retained-succeeded":       {status.CurrentStatus, "Healthy", "condition:Available"},
	"retry-from-succeeded-run":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"retry-from-before-failed-step":   {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"retry-from-finally-again":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"retry-from-without-token":        {status.CurrentStatus, "Healthy", "condition:Available"},
	"waiting-for-approval":            {status.InProgressStatus, "Suspended", "condition:AwaitingApproval"},
	"approved":                        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"run-deadline-passed":             {status.FailedStatus, "Degraded", "condition:Stalled"},
	"run-deadline-ahead":              {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"run-deadline-after-suspension":   {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"finally-after-failure":           {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"finally-done-after-failure":      {status.FailedStatus, "Degraded", "Job 1 failed: BackoffLimitExceeded"},
	"finally-after-success":           {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"finally-failed":                  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"retrying":                        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"failed-token-seen":               {status.FailedStatus, "Degraded", "Job 0 failed: BackoffLimitExceeded"},
	"retry-ignored-after-success":     {status.CurrentStatus, "Healthy", "condition:Available"},
	"result-passed-on":                {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"result-truncated":                {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"failed-exit-code":                {status.FailedStatus, "Degraded", "Job 0 failed: BackoffLimitExceeded"},
	"failed-oom-killed":               {status.FailedStatus, "Degraded", "Job 0 failed: BackoffLimitExceeded"},
	// Queued for Kueue: waiting, progressing, never Healthy or Degraded.
	"queued-created":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"queued-waiting":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"queued-admitted":       {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"queued-deadline-ahead": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"multikueue-step-done":  {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"ttl-expired":           {status.CurrentStatus, "Healthy", "condition:Available"},
	"ttl-ahead":             {status.CurrentStatus, "Healthy", "condition:Available"},
	// kstatus cannot tell a never-reconciled custom resource from a finished
	// one: with no status.observedGeneration and no conditions it says
	// Current. TestKstatusOnTheAPIServer checks that on the real apiserver.
	"not-yet-reconciled": {"", "Progressing", "Waiting for the SequentialJob controller to observe this object"},
	// The step template.
	"step-template-step-starting":        {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-template-mounts-step-starting": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-template-fields-step-starting": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-template-finally-starting":     {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"step-template-edited-next-step":     {status.InProgressStatus, "Progressing", "condition:Reconciling"},
}

// wantMessage resolves a healthWant message for the fixture.
func wantMessage(t *testing.T, sj *v1alpha1.SequentialJob, want string) string {
	t.Helper()
	condType, ok := strings.CutPrefix(want, "condition:")
	if !ok {
		return want
	}
	c := meta.FindStatusCondition(sj.Status.Conditions, condType)
	require.NotNil(t, c, "render set no %s condition", condType)
	require.NotEmpty(t, c.Message, "render's %s condition has no message", condType)
	return c.Message
}

// TestKstatus runs Flux's health logic (cli-utils kstatus) over render's
// statuses: InProgress while steps run or the generation lags, Current only
// when every step succeeded, Failed once a step failed.
func TestKstatus(t *testing.T) {
	for _, f := range healthFixtures {
		want, ok := healthWants[f.name]
		require.True(t, ok, "fixture %s has no expectation", f.name)
		if want.kstatus == "" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Log(f.reason)
			sj := f.build(t)
			res, err := status.Compute(toUnstructured(t, sj))
			require.NoError(t, err)
			assert.Equal(t, want.kstatus, res.Status, "kstatus message: %s", res.Message)
			// Flux's wait gives up on Failed: the message must say why.
			if want.kstatus == status.FailedStatus {
				assert.Equal(t, wantMessage(t, sj, want.argoMessage), res.Message)
			}
		})
	}
}

// TestFixturesCoverEveryRenderCase: a new render case (a new phase or
// condition) gets a health expectation here too.
func TestFixturesCoverEveryRenderCase(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(testenv.Root(), "render", "testdata"))
	require.NoError(t, err)
	for _, e := range entries {
		if fixtures.IsRenderCase(e) {
			assert.True(t, usedRenderCases[e.Name()], "render/testdata/%s has no fixture in test/gitops/fixtures_test.go", e.Name())
		}
	}
}

// TestArgoCDHealth runs config/argocd/health.lua in gopher-lua the way Argo
// CD does (sandboxed libraries, the object as the global obj) over render's
// statuses.
func TestArgoCDHealth(t *testing.T) {
	script := readHealthLua(t)
	for _, f := range healthFixtures {
		want, ok := healthWants[f.name]
		require.True(t, ok, "fixture %s has no expectation", f.name)
		t.Run(f.name, func(t *testing.T) {
			t.Log(f.reason)
			sj := f.build(t)
			got, err := argoHealth(toUnstructured(t, sj), script)
			require.NoError(t, err)
			assert.Equal(t, want.argo, got.Status)
			assert.Equal(t, wantMessage(t, sj, want.argoMessage), got.Message)
		})
	}
}

// TestArgoCDHealthOddObjects: a status Argo CD may see from an older or
// broken controller never makes the script error (Argo CD would show the
// error instead of a health).
func TestArgoCDHealthOddObjects(t *testing.T) {
	script := readHealthLua(t)
	cases := map[string]struct {
		obj  string
		want string
	}{
		"empty status":              {`{"metadata":{"generation":1},"status":{}}`, "Progressing"},
		"no metadata.generation":    {`{"metadata":{},"status":{"observedGeneration":1}}`, "Progressing"},
		"no conditions":             {`{"metadata":{"generation":1},"status":{"observedGeneration":1,"conditions":[]}}`, "Progressing"},
		"error being retried":       {`{"metadata":{"generation":1},"status":{"observedGeneration":1,"conditions":[{"type":"Failed","status":"True","reason":"ReconciliationError","message":"x"},{"type":"Reconciling","status":"True","message":"retrying"}]}}`, "Progressing"},
		"condition without message": {`{"metadata":{"generation":1},"status":{"observedGeneration":1,"conditions":[{"type":"Failed","status":"True"}]}}`, "Degraded"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			require.NoError(t, u.UnmarshalJSON([]byte(`{"apiVersion":"batch.example.com/v1alpha1","kind":"SequentialJob",`+strings.TrimPrefix(tc.obj, "{"))))
			got, err := argoHealth(u, script)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Status)
			assert.NotEmpty(t, got.Message)
		})
	}
}

var update = flag.Bool("update", false, "rewrite config/argocd/argocd-cm.yaml from config/argocd/health.lua and health-cron.lua")

// healthScripts are the keys of argocd-cm and the scripts they hold, in
// the order of the file. Argo CD's key is <group>_<kind> (the slash of
// group/kind replaced).
var healthScripts = []struct{ key, file string }{
	{"resource.customizations.health.batch.example.com_SequentialJob", "health.lua"},
	{"resource.customizations.health.batch.example.com_SequentialCronJob", "health-cron.lua"},
}

// TestArgoCDConfigMapCarriesHealthLua: the argocd-cm snippet users merge
// holds each health script verbatim, under the key Argo CD looks up for
// its kind.
func TestArgoCDConfigMapCarriesHealthLua(t *testing.T) {
	path := filepath.Join(testenv.Root(), "config", "argocd", "argocd-cm.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if *update {
		// Keep the header (everything up to the first key), re-indent each
		// script under its key.
		head, _, found := strings.Cut(string(data), "  "+healthScripts[0].key+": |\n")
		require.True(t, found, "%s lost its %s key", path, healthScripts[0].key)
		var b strings.Builder
		b.WriteString(head)
		for _, script := range healthScripts {
			b.WriteString("  " + script.key + ": |\n")
			for _, line := range strings.SplitAfter(readScript(t, script.file), "\n") {
				if strings.TrimSpace(line) != "" {
					b.WriteString("    ")
				}
				b.WriteString(line)
			}
		}
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
		data = []byte(b.String())
	}
	var cm corev1.ConfigMap
	require.NoError(t, yaml.UnmarshalStrict(data, &cm))
	assert.Equal(t, "argocd-cm", cm.Name)
	for _, script := range healthScripts {
		assert.Equal(t, readScript(t, script.file), cm.Data[script.key],
			"config/argocd/argocd-cm.yaml must embed config/argocd/%s verbatim: go test ./test/gitops -run ConfigMap -update", script.file)
	}
}

func readHealthLua(t *testing.T) string { return readScript(t, "health.lua") }

func readScript(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "argocd", name))
	require.NoError(t, err)
	return string(data)
}

// argoHealthStatus is Argo CD's health.HealthStatus.
type argoHealthStatus struct {
	Status  string
	Message string
}

// argoHealth mirrors Argo CD's util/lua VM.ExecuteHealthLua: without
// resource.customizations.useOpenLibs, only the package, base and table
// libraries are open (Argo CD adds a reduced os library; the script does not
// use it), the object is the global obj, converted value by value, and the
// script's returned table is the health. A status Argo CD does not know
// becomes Unknown.
func argoHealth(obj *unstructured.Unstructured, script string) (argoHealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return argoHealthStatus{}, err
		}
	}
	l.SetGlobal("obj", luaValue(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return argoHealthStatus{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return argoHealthStatus{}, errNotTable(l.Get(-1).Type().String())
	}
	out := argoHealthStatus{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
	switch out.Status {
	case "Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing":
	default:
		return argoHealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return out, nil
}

type errNotTable string

func (e errNotTable) Error() string { return "expect table output from Lua script, not " + string(e) }

// luaValue is Argo CD's decodeValue.
func luaValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(luaValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), luaValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}
