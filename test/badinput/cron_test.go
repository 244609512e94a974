package badinput_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
	scheduling "example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/testenv"
)

// The SequentialCronJob catalogue, cron-cases/: the same header as cases/
// (doc.go), with the layers a cron meets: schema, cel, controller (the
// schedule or time zone only the parser refuses: Ready=False and
// Stalled=True with its words) and accepted.

var cronLayers = []string{layerSchema, layerCEL, layerController, layerAccepted}

func loadCronCatalogue(t *testing.T) []badCase {
	t.Helper()
	cases := loadCatalogueFrom(t, "cron-cases")
	require.GreaterOrEqual(t, len(cases), 6, "the issue asks for at least 6 SequentialCronJob cases")
	for _, c := range cases {
		require.Contains(t, cronLayers, c.Layer, c.Name)
	}
	return cases
}

// TestCronOffline: the CRD's schema and CEL rules refuse the admission
// cases with the apiserver's words; the admitted ones reach the decision,
// which says what the cron does about them.
func TestCronOffline(t *testing.T) {
	s, err := crd.LoadCronSchema()
	require.NoError(t, err)
	for _, c := range loadCronCatalogue(t) {
		t.Run(c.Name, func(t *testing.T) {
			obj, err := decodeStrict(c.Raw)
			require.NoError(t, err)
			obj["metadata"].(map[string]any)["namespace"] = "badinput"
			problems := s.Admit(obj)
			if c.Layer == layerSchema || c.Layer == layerCEL {
				require.NotEmpty(t, problems, "admitted by the CRD: %s", c.Why)
				assert.Contains(t, strings.Join(problems, "\n"), c.Message, c.Why)
				return
			}
			require.Empty(t, problems, "refused by the CRD: %s", c.Why)
			decideAdmitted(t, c, obj)
		})
	}
}

// decideAdmitted holds an admitted case to what the controller makes of
// it: controller cases are Stalled with the message and create nothing,
// accepted ones are Ready and create their run.
func decideAdmitted(t *testing.T, c badCase, obj map[string]any) {
	t.Helper()
	cron := &v1alpha1.SequentialCronJob{}
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj, cron))
	created := time.Date(2026, 1, 4, 23, 0, 0, 0, time.UTC)
	cron.CreationTimestamp, cron.UID, cron.Generation = metav1.Time{Time: created}, "uid", 1
	d := scheduling.Decide(cron, nil, created.Add(2*time.Hour))
	ready := meta.FindStatusCondition(d.Status.Conditions, v1alpha1.ConditionReady)
	require.NotNil(t, ready)
	switch c.Layer {
	case layerController:
		assert.Nil(t, d.Create, "no run")
		assert.Equal(t, metav1.ConditionFalse, ready.Status)
		assert.Equal(t, c.Message, ready.Message, c.Why)
		assert.True(t, meta.IsStatusConditionTrue(d.Status.Conditions, v1alpha1.ConditionStalled))
		require.Len(t, d.Events, 1)
		assert.True(t, d.Events[0].Warning)
	case layerAccepted:
		assert.Equal(t, metav1.ConditionTrue, ready.Status, ready.Message)
		require.NotNil(t, d.Create, "the run of the schedule time")
		assert.LessOrEqual(t, len(d.Create.Name), v1alpha1.MaxNameLength)
	}
}

// TestCronOnline sends every case to a real apiserver, strict field
// validation as kubectl's default: the admission cases are refused with the
// message, the others are stored.
func TestCronOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an apiserver")
	}
	env := testenv.Start(t)
	dyn, err := dynamic.NewForConfig(env.Config)
	require.NoError(t, err)
	crons := dyn.Resource(schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: "sequentialcronjobs"}).Namespace("default")
	for _, c := range loadCronCatalogue(t) {
		t.Run(c.Name, func(t *testing.T) {
			obj, err := decodeStrict(c.Raw)
			require.NoError(t, err)
			_, err = crons.Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{FieldValidation: "Strict"})
			if c.Layer == layerSchema || c.Layer == layerCEL {
				require.Error(t, err, "stored: %s", c.Why)
				assert.Contains(t, err.Error(), c.Message, c.Why)
				return
			}
			require.NoError(t, err, c.Why)
		})
	}
}
