package render

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

// MarshalYAML prints d as a user reads it, in this order: the Jobs to
// create, the status, whether it changed, the Jobs released, the
// transitions, the events, whether the run is blocked, when to look
// again and whether to delete the SequentialJob. Needs are not printed: a
// rendered case shows the decision once the cluster answered them. It is the one
// serializer of Desired: the golden tests and `sequentialjob render` share it.
func (d Desired) MarshalYAML() ([]byte, error) {
	jobs := any([]any{})
	if d.Job != nil {
		jobs = []any{d.Job}
	}
	sections := []struct {
		key   string
		value any
		keep  bool
	}{
		{"jobs", jobs, true},
		{"jobControls", d.JobControls, len(d.JobControls) > 0},
		{"status", d.Status, true},
		{"statusChanged", d.StatusChanged(), true},
		{"release", d.Release, len(d.Release) > 0},
		{"transitions", orEmpty(d.Transitions), true},
		{"events", orEmpty(d.Events), true},
		{"blocked", true, d.Requeue.Look == LookPoll},
		{"requeueAfter", d.Requeue.After.String(), d.Requeue.After > 0},
		{"delete", true, d.Requeue.Look == LookDelete},
	}
	var buf bytes.Buffer
	for _, s := range sections {
		if !s.keep {
			continue
		}
		data, err := yaml.Marshal(map[string]any{s.key: s.value})
		if err != nil {
			return nil, fmt.Errorf("printing %s: %w", s.key, err)
		}
		buf.Write(data)
	}
	return buf.Bytes(), nil
}

func orEmpty[T any](in []T) []T {
	if in == nil {
		return []T{}
	}
	return in
}
