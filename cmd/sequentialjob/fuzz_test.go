package main

// Fuzz target for the input parsing of `sequentialjob render` (issue 13).
// `make test` runs the seed corpus under testdata/fuzz/ as an ordinary
// test; `make fuzz` explores further.

import (
	"strings"
	"testing"
	"time"

	"example.com/sequentialjob/render"
)

// FuzzParseInput feeds arbitrary bytes to the parser of the SequentialJob
// file and the observed Jobs file, as `render -f sj.yaml --observed
// jobs.yaml` reads them. Whatever the bytes:
//   - no panic;
//   - an error names the file at fault, as every message of the command
//     does, so a user knows which file to fix;
//   - what is accepted has what render relies on: a name, a namespace, a
//     generation, and Jobs of kind batch/v1 Job in a namespace;
//   - what is accepted renders, and its output prints;
//   - the accepted SequentialJob, printed as YAML (as a user saves it) and
//     parsed again, is accepted again and renders the same.
func FuzzParseInput(f *testing.F) {
	o := renderOptions{filename: "sj.yaml", observed: "jobs.yaml", namespace: "default"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, sjData, observed []byte) {
		sj, jobs, err := parseInput(o, sjData, observed)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "sj.yaml: ") && !strings.HasPrefix(msg, "jobs.yaml: ") {
				t.Fatalf("the error does not name the file at fault: %q", msg)
			}
			return
		}
		if sj.Name == "" || sj.Namespace == "" || sj.Generation < 1 {
			t.Fatalf("accepted a SequentialJob without a name, namespace or generation: %q/%q generation %d", sj.Namespace, sj.Name, sj.Generation)
		}
		for i, job := range jobs {
			if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Namespace == "" {
				t.Fatalf("observed Job %d is accepted as %s %s in namespace %q", i, job.APIVersion, job.Kind, job.Namespace)
			}
		}
		d := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
		first, err := d.MarshalYAML()
		if err != nil {
			t.Fatalf("printing the render of an accepted input: %v", err)
		}

		saved, err := render.ToYAML(sj)
		if err != nil {
			t.Fatalf("printing the accepted SequentialJob: %v", err)
		}
		again, _, err := parseInput(o, saved, nil)
		if err != nil {
			t.Fatalf("the accepted SequentialJob, printed and read back, is refused: %v\n%s", err, saved)
		}
		if jobs == nil {
			second, _ := render.Render(render.Observed{SequentialJob: again}, now).MarshalYAML()
			if string(first) != string(second) {
				t.Fatalf("the accepted SequentialJob, printed and read back, renders differently:\n%s\n---\n%s", first, second)
			}
		}
	})
}
