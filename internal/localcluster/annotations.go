package localcluster

// The annotations are the only part of this package that builds on every
// OS: test fixtures and users' YAML name them, while the cluster itself runs
// on Linux only (process groups, Pdeathsig, flock, /proc).

// Simulation annotations, read by the pod Stages from the pod (that is, from
// spec.template.metadata.annotations of a SequentialJob). Suffix either with
// "." and a step name to set it for that step only.
const (
	// AnnotationDuration is how long the containers run, as a Go duration
	// ("1s", "250ms"). Default 1s.
	AnnotationDuration = "sim.batch.example.com/duration"
	// AnnotationExitCode is the containers' exit code. Default 0; non-zero
	// makes the pod Failed with that exit code.
	AnnotationExitCode = "sim.batch.example.com/exit-code"
	// AnnotationResult is the termination message the containers write:
	// the step's result. A failing container writes "simulated exit code
	// <n> (sim.batch.example.com/exit-code)" unless this is set.
	AnnotationResult = "sim.batch.example.com/result"
)
