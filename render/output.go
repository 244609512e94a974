package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

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
		{"claims", d.Claims, len(d.Claims) > 0},
		{"jobs", jobs, true},
		{"deleteClaims", d.DeleteClaims, len(d.DeleteClaims) > 0},
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
		data, err := ToYAML(map[string]any{s.key: s.value})
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

// ToYAML is sigs.k8s.io/yaml's Marshal for any string the apiserver
// accepts; the CLI prints with it. That Marshal writes JSON, then reads it back with its YAML
// parser, which refuses characters YAML does not allow in a stream (DEL,
// the C1 controls, U+FFFE and U+FFFF) even inside a JSON string,
// where encoding/json leaves them raw: `sequentialjob render` failed with
// "yaml: control characters are not allowed" on a step argument holding a
// DEL. Escaped first, they reach the YAML emitter, which prints them as
// escapes in a double-quoted scalar, and they read back unchanged.
func ToYAML(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(EscapeForYAML(data))
}

// EscapeForYAML rewrites the characters of a JSON text that a YAML parser
// refuses as \u escapes, so the text reads as YAML with the same values.
// Outside strings, JSON holds only ASCII that YAML allows, so every
// rewritten character is inside a string, where the escape means it.
func EscapeForYAML(data []byte) []byte {
	var out []byte
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if yamlAllows(r) || size == 1 && r == utf8.RuneError {
			if out != nil {
				out = append(out, data[i:i+size]...)
			}
			i += size
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(data)+16), data[:i]...)
		}
		out = fmt.Appendf(out, `\u%04x`, r)
		i += size
	}
	if out == nil {
		return data
	}
	return out
}

// yamlAllows is YAML 1.1's printable set, as the parser of
// sigs.k8s.io/yaml checks it, less NEL: YAML reads that one as a line
// break, which a double-quoted scalar folds into a space.
func yamlAllows(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return false
	case r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff:
		return false
	}
	return true
}
