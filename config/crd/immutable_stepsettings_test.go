package crd_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
)

// stepSettingsFields classifies every field of StepSettings, as specFields
// does the spec's. The Immutable rule compares spec.stepSettings whole, so
// each is "what it runs"; a new field fails TestImmutableRuleCoversStepSettings
// until it is classified here, with an edit that TestImmutableRuleByStepSetting
// applies to a started Immutable run (appended to the spec `immutable`,
// whose steps are a and b).
var stepSettingsFields = map[string]struct {
	class fieldClass
	why   string
	edit  string
}{
	"name": {whatItRuns, "which step the settings are for", "  stepSettings: [{name: b}]\n"},
	"backoffLimit": {whatItRuns, "the step's Job's backoffLimit",
		"  stepSettings: [{name: b, backoffLimit: 1}]\n"},
	"activeDeadlineSeconds": {whatItRuns, "the step's Job's activeDeadlineSeconds",
		"  stepSettings: [{name: b, activeDeadlineSeconds: 60}]\n"},
	"podFailurePolicy": {whatItRuns, "the step's Job's podFailurePolicy",
		"  stepSettings: [{name: b, podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}}]\n"},
	"onFailure": {whatItRuns, "whether the step's failure stops the run",
		"  stepSettings: [{name: b, onFailure: Continue}]\n"},
	"when": {whatItRuns, "whether the step runs at all: an edit mid-run would change which steps run",
		"  stepSettings: [{name: b, when: \"steps.a.phase == 'Succeeded'\"}]\n"},
	"approval": {whatItRuns, "whether the step waits for a person: adding or removing a gate mid-run changes how the run goes",
		"  stepSettings: [{name: b, approval: Required}]\n"},
}

// TestImmutableRuleCoversStepSettings: every field of StepSettings is
// classified, and the Immutable rule compares stepSettings as a whole, so
// every "what it runs" field of it is frozen.
func TestImmutableRuleCoversStepSettings(t *testing.T) {
	typ := reflect.TypeFor[v1alpha1.StepSettings]()
	var fields []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
		c, ok := stepSettingsFields[name]
		assert.True(t, ok, "spec.stepSettings[].%s is not classified: add it to stepSettingsFields (config/crd/immutable_stepsettings_test.go)", name)
		assert.Equal(t, whatItRuns, c.class, "spec.stepSettings[].%s: the Immutable rule compares stepSettings whole, so a run control there would be frozen too", name)
	}
	for f := range stepSettingsFields {
		assert.Contains(t, fields, f, "stepSettingsFields classifies spec.stepSettings[].%s, which StepSettings does not have", f)
	}
	assert.True(t, analyse(t, immutableRule(t), "self", "oldSelf").compared["stepSettings"], "the Immutable rule compares spec.stepSettings")
}

// TestImmutableRuleByStepSetting sets each StepSettings field on a started
// Immutable run: rejected with the Immutable message; the same edit of a
// run that has not started is accepted.
func TestImmutableRuleByStepSetting(t *testing.T) {
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	names := make([]string, 0, len(stepSettingsFields))
	for f := range stepSettingsFields {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		c := stepSettingsFields[f]
		t.Run(f, func(t *testing.T) {
			newSpec := immutable + c.edit
			pending := stored(t, schema, immutable, notStarted)
			obj := object(t, "sj", newSpec)
			obj["status"] = pending["status"]
			require.Empty(t, schema.AdmitUpdate(obj, pending), "the edit of spec.stepSettings[].%s must be valid on a run that has not started", f)

			running := stored(t, schema, immutable, firstStepRuns)
			obj = object(t, "sj", newSpec)
			obj["status"] = running["status"]
			assert.Equal(t, []string{immutableMessage}, schema.AdmitUpdate(obj, running), "spec.stepSettings[].%s is %q: %s", f, c.class, c.why)
		})
	}
}
