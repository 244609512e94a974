// Package badinput is the catalogue of malformed and hostile SequentialJobs
// (issue 13): cases/*.yaml, each one a file a user could apply, and the
// tests that hold every case to the layer that must refuse it and to the
// message the user then reads, offline and against a real apiserver.
//
// A case file starts with a header of comment lines:
//
//	# layer: cel
//	# message: step names (spec.containers[].name) must be unique
//	# namespace: baseline          (optional)
//	# old: stored/running.yaml     (optional: the case is an update of that object)
//	# user: limited                (optional: who sends it; default an admin)
//	# why: what the case is about,
//	#   continued on lines that start with "#   ".
//
// layer is the first layer that refuses the case:
//   - decode: the apiserver's strict decoding of the request body (YAML
//     duplicate keys, alias bombs);
//   - schema: the CRD's OpenAPI schema, with metadata and list-map keys;
//   - cel: the CRD's x-kubernetes-validations rules;
//   - policy: a ValidatingAdmissionPolicy of policies/;
//   - dry-run: admitted, then the controller's server-side dry-run of a
//     step's Job refuses it, and the run fails with reason InvalidStep
//     before any step starts;
//   - controller: admitted, then the controller fails the run (for example
//     StepLimitExceeded);
//   - accepted: a control case at a limit, which must be admitted and run.
//
// message is a fragment of what the user reads: the apiserver's error for
// the admission layers, the Failed condition's message for the others.
// namespace picks the namespace's labels: baseline enforces Pod Security
// baseline, enforce enforces the organisation policies
// (policies.batch.example.com/mode: enforce); without it, none.
// old names the stored object, status included, that the case replaces.
// user limited is a user who may create SequentialJobs and Jobs and nothing
// else; without it the request is an admin's (offline: a namespace editor's).
//
// Two more keys record what does not work yet, so that the catalogue says
// what should happen while its tests stay green and fail once it is fixed:
//   - gap: why layer does not refuse the case today, and the fix. The tests
//     hold the case to today's behaviour (admitted, its first Job created).
//   - offline-gap: why config/crd's offline validator disagrees with the
//     apiserver. The offline test expects the opposite of the apiserver's
//     verdict from it.
package badinput
