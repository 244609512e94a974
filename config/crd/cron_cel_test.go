package crd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
)

// cronObject is a SequentialCronJob with the given spec (YAML) and name.
func cronObject(t *testing.T, name, spec string) map[string]any {
	t.Helper()
	var obj map[string]any
	doc := fmt.Sprintf("apiVersion: batch.example.com/v1alpha1\nkind: SequentialCronJob\nmetadata: {name: %s, namespace: default}\nspec:\n%s", name, spec)
	require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
	return obj
}

const cronTemplate = "  sequentialJobTemplate: {spec: {containers: [{name: a, image: busybox}]}}\n"

func cronSpec(schedule string, extra ...string) string {
	return fmt.Sprintf("  schedule: %q\n", schedule) + strings.Join(extra, "") + cronTemplate
}

// TestCronCRDValidationRules: what the SequentialCronJob CRD accepts and
// rejects at admission, with the message a user sees.
func TestCronCRDValidationRules(t *testing.T) {
	schema, err := crd.LoadCronSchema()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, reason, objName, spec, wantErr string
	}{
		{name: "every-minute", reason: "the e2e test's schedule", spec: cronSpec("* * * * *")},
		{name: "ranges-steps-lists", reason: "standard cron syntax", spec: cronSpec("*/15 9-17 * * MON-FRI")},
		{name: "names-of-months", reason: "month and weekday names parse", spec: cronSpec("0 0 1 JAN,JUL *")},
		{name: "hourly", reason: "the @hourly family", spec: cronSpec("@hourly")},
		{name: "midnight", reason: "the @hourly family", spec: cronSpec("@midnight")},
		{name: "every-duration", reason: "@every, as robfig/cron and CronJob accept", spec: cronSpec("@every 1h30m")},
		{name: "tab-separated", reason: "any blank separates fields", spec: cronSpec("0\t0 * * *")},
		{name: "time-zone", reason: "an IANA name", spec: cronSpec("0 3 * * *", "  timeZone: Europe/Berlin\n")},
		{name: "time-zone-etc", reason: "Etc/GMT+5 has a plus sign", spec: cronSpec("0 3 * * *", "  timeZone: Etc/GMT+5\n")},
		{name: "all-fields", reason: "every field set", spec: cronSpec("0 3 * * *",
			"  timeZone: UTC\n  startingDeadlineSeconds: 200\n  concurrencyPolicy: Forbid\n  suspend: true\n  successfulRunsHistoryLimit: 0\n  failedRunsHistoryLimit: 5\n")},
		{name: "template-metadata", reason: "labels and annotations for each run", spec: "  schedule: '@daily'\n  sequentialJobTemplate: {metadata: {labels: {team: a}, annotations: {x: \"y\"}}, spec: {containers: [{name: a, image: busybox}]}}\n"},
		{name: "template-pod-settings", reason: "the embedded template needs no containers (patched as for SequentialJob)", spec: "  schedule: '@daily'\n  sequentialJobTemplate: {spec: {template: {spec: {nodeSelector: {a: b}}}, containers: [{name: a, image: busybox}]}}\n"},
		{name: "name-51", reason: "51 characters leave room for -<minutes>", objName: strings.Repeat("a", 51), spec: cronSpec("@daily")},

		{name: "four-fields", reason: "one field short", spec: cronSpec("* * * *"), wantErr: "spec.schedule must be five cron fields"},
		{name: "six-fields", reason: "seconds are not standard cron", spec: cronSpec("0 * * * * *"), wantErr: "spec.schedule must be five cron fields"},
		{name: "unknown-descriptor", reason: "@reboot means nothing to a controller", spec: cronSpec("@reboot"), wantErr: "spec.schedule must be five cron fields"},
		{name: "empty-schedule", reason: "required", spec: cronSpec(""), wantErr: "spec.schedule"},
		{name: "tz-in-schedule", reason: "as CronJob: the time zone has its own field", spec: cronSpec("TZ=UTC 0 * * * *"), wantErr: "spec.schedule must not set TZ= or CRON_TZ=: use spec.timeZone"},
		{name: "cron-tz-in-schedule", reason: "as CronJob", spec: cronSpec("CRON_TZ=UTC 0 * * * *"), wantErr: "spec.schedule must not set TZ= or CRON_TZ=: use spec.timeZone"},
		{name: "time-zone-blank", reason: "a space is in no zone name", spec: cronSpec("@daily", "  timeZone: 'Europe/ Berlin'\n"), wantErr: "spec.timeZone must be a name of the IANA time zone database"},
		{name: "time-zone-path", reason: "no path escapes", spec: cronSpec("@daily", "  timeZone: ../etc/passwd\n"), wantErr: "spec.timeZone must be a name of the IANA time zone database"},
		{name: "bad-policy", reason: "an enum", spec: cronSpec("@daily", "  concurrencyPolicy: Sometimes\n"), wantErr: `supported values: "Allow", "Forbid", "Replace"`},
		{name: "negative-deadline", reason: "Minimum 0", spec: cronSpec("@daily", "  startingDeadlineSeconds: -1\n"), wantErr: "spec.startingDeadlineSeconds"},
		{name: "negative-history", reason: "Minimum 0", spec: cronSpec("@daily", "  successfulRunsHistoryLimit: -1\n"), wantErr: "spec.successfulRunsHistoryLimit"},
		{name: "no-template", reason: "required", spec: "  schedule: '@daily'\n", wantErr: "spec.sequentialJobTemplate: Required value"},
		{name: "template-without-steps", reason: "the template is a SequentialJob spec, with its rules", spec: "  schedule: '@daily'\n  sequentialJobTemplate: {spec: {containers: []}}\n", wantErr: "spec.sequentialJobTemplate.spec.containers"},
		{name: "template-duplicate-steps", reason: "the SequentialJob spec's CEL rules hold in the template", spec: "  schedule: '@daily'\n  sequentialJobTemplate: {spec: {containers: [{name: a, image: busybox}, {name: a, image: busybox}]}}\n", wantErr: "step names (spec.containers[].name) must be unique"},
		{name: "name-52", reason: "the run names would not fit", objName: strings.Repeat("a", 52), spec: cronSpec("@daily"), wantErr: "metadata.name must be at most 51 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objName := tc.objName
			if objName == "" {
				objName = "cron"
			}
			problems := strings.Join(schema.Admit(cronObject(t, objName, tc.spec)), "\n")
			if tc.wantErr == "" {
				assert.Empty(t, problems, tc.reason)
				return
			}
			assert.Contains(t, problems, tc.wantErr, tc.reason)
		})
	}
}

// TestCronCRDDefaults: the defaults a user reads back are CronJob's.
func TestCronCRDDefaults(t *testing.T) {
	schema, err := crd.LoadCronSchema()
	require.NoError(t, err)
	obj := cronObject(t, "cron", cronSpec("@daily"))
	require.Empty(t, schema.Admit(obj))
	spec := obj["spec"].(map[string]any)
	assert.Equal(t, "Allow", spec["concurrencyPolicy"])
	assert.EqualValues(t, 3, spec["successfulRunsHistoryLimit"])
	assert.EqualValues(t, 1, spec["failedRunsHistoryLimit"])
}

// TestCronCRDPassesAPIExtensionsValidation: the apiserver accepts the CRD,
// CEL cost budget included (the embedded SequentialJob spec's rules too).
func TestCronCRDPassesAPIExtensionsValidation(t *testing.T) {
	var v1 apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(crd.SequentialCronJobs, &v1))
	var internal apiextensionsinternal.CustomResourceDefinition
	require.NoError(t, apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil))
	internal.Status.StoredVersions = []string{"v1alpha1"}
	errs := apiextensionsvalidation.ValidateCustomResourceDefinition(context.Background(), &internal)
	assert.Empty(t, errs.ToAggregate())
	assert.Equal(t, []string{"sqcj"}, v1.Spec.Names.ShortNames)
}

// TestCronCRDBoundsMatchConstants: the markers repeat the constants.
func TestCronCRDBoundsMatchConstants(t *testing.T) {
	var v1 apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(crd.SequentialCronJobs, &v1))
	spec := v1.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	assert.EqualValues(t, v1alpha1.MaxScheduleLength, *spec.Properties["schedule"].MaxLength)
	assert.EqualValues(t, v1alpha1.MaxTimeZoneLength, *spec.Properties["timeZone"].MaxLength)
	assert.Contains(t, v1.Spec.Versions[0].Schema.OpenAPIV3Schema.XValidations[0].Rule, fmt.Sprintf("<= %d", v1alpha1.MaxCronNameLength))
}
