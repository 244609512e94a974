package render_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"

	"example.com/sequentialjob/render"
)

// TestMarshalYAMLPrintsAnyString: every string the apiserver accepts
// (valid UTF-8, any code point) is printed, and reads back unchanged.
// sigs.k8s.io/yaml's Marshal refused DEL, the C1 controls, U+FFFE and
// U+FFFF ("yaml: control characters are not allowed"), so `sequentialjob
// render` could not print a step holding one.
func TestMarshalYAMLPrintsAnyString(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r <= 0x10000; r++ {
		if utf8.ValidRune(r) {
			all.WriteRune(r)
		}
	}
	all.WriteString("\U0001F600\U0010FFFF")
	for name, s := range map[string]string{
		"DEL":                       "a\x7fb",
		"C0 controls":               "\x00\x01\a\b\x1b[0m\x1f",
		"C1 controls and NEL":       "\u0080\u0085\u009f",
		"line and paragraph breaks": "a\u2028b\u2029c\r\nd",
		"BOM and noncharacters":     "\ufeff\ufffe\uffff",
		"every code point to U+10000 and two beyond": all.String(),
	} {
		job := batchv1ac.Job("j", "ns").WithSpec(batchv1ac.JobSpec().WithTemplate(corev1ac.PodTemplateSpec().
			WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("a").WithArgs(s)))))
		out, err := render.Desired{Job: job}.MarshalYAML()
		require.NoError(t, err, name)
		var got struct {
			Jobs []struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct{ Args []string }
						}
					}
				}
			}
		}
		require.NoError(t, yaml.Unmarshal(out, &got), name)
		require.Equal(t, []string{s}, got.Jobs[0].Spec.Template.Spec.Containers[0].Args, name)
	}
}
