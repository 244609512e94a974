package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
	"example.com/sequentialjob/render"
)

func init() { subcommands = append(subcommands, newRenderCommand) }

// renderOptions are the flags of `sequentialjob render`.
type renderOptions struct {
	filename  string
	observed  string
	now       string
	namespace string
}

func newRenderCommand() *cobra.Command {
	var o renderOptions
	cmd := &cobra.Command{
		Use:   "render -f SEQUENTIALJOB.yaml [--observed JOBS.yaml] [--now RFC3339]",
		Short: "Print, offline, the Jobs the controller would create next and the status it would write",
		Long: `render runs the controller's own decision logic (the render package) on a
SequentialJob and the Jobs it already has, with no cluster, and prints as YAML:

  jobs           the Jobs the controller would create next (server-side apply intents)
  status         the whole status it would write
  statusChanged  false when that status equals the one in the file (nothing is written)
  release        the Jobs whose step-result finalizer it would remove
  transitions    the step and run phase changes
  events         the events it would record

The SequentialJob is first checked against the CRD's schema and CEL rules, as
the apiserver would: errors name the field (spec.containers[0].name: Required
value), and unknown fields are errors.

--observed takes the step Jobs as YAML documents or a List (kubectl get jobs -o
yaml). A SequentialJob without metadata.uid (a file from git) owns the Jobs
whose controller is SequentialJob/<its name>. Without metadata.generation it
is at generation 1, as after its creation; without a namespace it is in
--namespace.`,
		Example: `  sequentialjob render -f examples/seed-example.yaml
  kubectl get sqj pipeline -o yaml > sj.yaml
  kubectl get jobs -l batch.example.com/sequentialjob=pipeline -o yaml > jobs.yaml
  sequentialjob render -f sj.yaml --observed jobs.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := runRender(o, time.Now)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVarP(&o.filename, "filename", "f", "", "the SequentialJob, as YAML or JSON (- for stdin)")
	cmd.Flags().StringVar(&o.observed, "observed", "", "the Jobs the controller sees, as YAML documents or a List")
	cmd.Flags().StringVar(&o.now, "now", "", "the time to render at, RFC3339 (default: the current time)")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "default", "the namespace of a SequentialJob that names none")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func runRender(o renderOptions, clock func() time.Time) ([]byte, error) {
	now := clock()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return nil, fmt.Errorf("--now: %q is not an RFC3339 time such as 2026-01-02T03:04:05Z", o.now)
		}
		now = t
	}
	data, err := readInput(o.filename)
	if err != nil {
		return nil, err
	}
	var observed []byte
	if o.observed != "" {
		if observed, err = readInput(o.observed); err != nil {
			return nil, err
		}
	}
	sj, jobs, err := parseInput(o, data, observed)
	if err != nil {
		return nil, err
	}

	got := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
	out, err := got.MarshalYAML()
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# sequentialjob render %s/%s at %s\n", sj.Namespace, sj.Name, now.UTC().Format(time.RFC3339))
	return append([]byte(header), out...), nil
}

// parseInput parses what render reads: the SequentialJob, validated as the
// apiserver would, and the observed Jobs (none when observed is nil), each
// in the SequentialJob's namespace unless it names one. It is separate from
// reading the files so that it can be fuzzed.
func parseInput(o renderOptions, data, observed []byte) (*v1alpha1.SequentialJob, []batchv1.Job, error) {
	sj, err := decodeSequentialJob(o.filename, data, o.namespace)
	if err != nil {
		return nil, nil, err
	}
	var jobs []batchv1.Job
	if observed != nil {
		if jobs, err = decodeJobs(o.observed, observed); err != nil {
			return nil, nil, err
		}
	}
	for i := range jobs {
		if jobs[i].Namespace == "" {
			jobs[i].Namespace = sj.Namespace
		}
	}
	adoptUID(sj, jobs)
	return sj, jobs, nil
}

func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(bufio.NewReader(os.Stdin))
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// yamlDocuments splits a YAML stream into its non-empty documents, each as JSON.
func yamlDocuments(name string, data []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading YAML: %w", name, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		// Strict: a key given twice is an error, as on the apiserver.
		jsonDoc, err := yaml.YAMLToJSONStrict(doc)
		if err != nil && json.Valid(doc) {
			// JSON (kubectl -o json) may hold characters raw that YAML
			// refuses (DEL, C1 controls); all are inside strings, where
			// an escape means the same.
			jsonDoc, err = yaml.YAMLToJSONStrict(render.EscapeForYAML(doc))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d is not valid YAML: %w", name, n, err)
		}
		if bytes.Equal(bytes.TrimSpace(jsonDoc), []byte("null")) {
			continue
		}
		docs = append(docs, jsonDoc)
	}
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || trimmed == "---" {
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}

// decodeSequentialJob parses the one SequentialJob in data and validates it
// against the installed CRD as the apiserver does on create: unknown fields,
// then defaults, then the OpenAPI schema, list invariants and CEL rules.
func decodeSequentialJob(name string, data []byte, namespace string) (*v1alpha1.SequentialJob, error) {
	docs, err := yamlDocuments(name, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s: want exactly one SequentialJob, found %d YAML documents", name, len(docs))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(docs[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if u.GroupVersionKind() != v1alpha1.GroupVersion.WithKind("SequentialJob") {
		return nil, fmt.Errorf("%s: want apiVersion %s, kind SequentialJob; found apiVersion %q, kind %q",
			name, v1alpha1.GroupVersion, u.GetAPIVersion(), u.GetKind())
	}

	schema, err := loadSchema()
	if err != nil {
		return nil, err
	}
	pruneNulls(u.Object)
	if errs := schema.Admit(u.Object); len(errs) > 0 {
		return nil, invalidError(name, u.GetName(), errs)
	}

	sj := &v1alpha1.SequentialJob{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, sj); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if sj.Namespace == "" {
		sj.Namespace = namespace
	}
	if sj.Generation == 0 {
		// The apiserver starts every object at generation 1.
		sj.Generation = 1
	}
	return sj, nil
}

// pruneNulls drops the null values of obj's fields, as the apiserver's
// decoder does before validation for every field the schema does not mark
// nullable (the CRD marks none). crd.Schema.Admit does not: without this,
// YAML printed from the Go types, whose nil slices print as null
// (spec.template.spec.containers: null), would be refused here although the
// apiserver accepts it. Found by FuzzParseInput.
func pruneNulls(obj any) {
	switch v := obj.(type) {
	case map[string]any:
		for k, child := range v {
			if child == nil {
				delete(v, k)
				continue
			}
			pruneNulls(child)
		}
	case []any:
		for _, child := range v {
			pruneNulls(child)
		}
	}
}

// loadSchema builds the CRD's schema and CEL validator once per process:
// building them costs far more than validating one object.
var loadSchema = sync.OnceValues(crd.LoadSchema)

// invalidError reads like the apiserver's `SequentialJob "x" is invalid`,
// one field error per line.
func invalidError(file, name string, problems []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: SequentialJob %q is invalid:", file, name)
	for _, p := range problems {
		b.WriteString("\n  * " + p)
	}
	return errors.New(b.String())
}

// decodeJobs reads the observed Jobs: YAML documents, each a Job or a List
// of Jobs. Unknown fields are errors, so that a typo is not silently ignored.
func decodeJobs(name string, data []byte) ([]batchv1.Job, error) {
	docs, err := yamlDocuments(name, data)
	if err != nil {
		return nil, err
	}
	var jobs []batchv1.Job
	for i, doc := range docs {
		var head struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		items := []json.RawMessage{doc}
		if head.Kind == "List" || head.Kind == "JobList" {
			items = head.Items
		}
		for j, item := range items {
			where := fmt.Sprintf("%s: document %d", name, i+1)
			if len(items) > 1 || head.Kind == "List" || head.Kind == "JobList" {
				where += fmt.Sprintf(", item %d", j)
			}
			var job batchv1.Job
			strictErrs, err := sigsjson.UnmarshalStrict(item, &job, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if len(strictErrs) > 0 {
				return nil, fmt.Errorf("%s: %w", where, errors.Join(strictErrs...))
			}
			if job.APIVersion != "batch/v1" || job.Kind != "Job" {
				return nil, fmt.Errorf("%s: want apiVersion batch/v1, kind Job; found apiVersion %q, kind %q", where, job.APIVersion, job.Kind)
			}
			jobs = append(jobs, job)
		}
	}
	return jobs, nil
}

// adoptUID gives a SequentialJob read from a file without metadata.uid the
// UID its observed Jobs name as their controller, so that render sees them
// as its own, as the controller does on the cluster.
func adoptUID(sj *v1alpha1.SequentialJob, jobs []batchv1.Job) {
	if sj.UID != "" {
		return
	}
	for i := range jobs {
		if jobs[i].Namespace != sj.Namespace {
			continue
		}
		ref := metav1.GetControllerOfNoCopy(&jobs[i])
		if ref != nil && ref.Kind == "SequentialJob" && ref.Name == sj.Name && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			sj.UID = types.UID(ref.UID)
			return
		}
	}
}
