// Package bench holds the benchmark commands of issue "speed at scale":
// they drive many SequentialJobs through a real controller process and
// print their figures, one line each.
//
//   - TestScale (`make bench-scale`): envtest only, no Job controller; the
//     benchmark marks each Job complete the moment it appears, so the
//     controller, not the cluster, is the bottleneck.
//   - TestCluster (`make bench-cluster`): the local cluster, with the real
//     Job controller and kwok pods; a baseline of bare Jobs first.
//   - TestCompare (`make bench-compare`): the local cluster, ours, then
//     JobSet's manager running the same steps as replicatedJobs chained by
//     dependsOn, then ours again.
//
// A handoff means one thing in all of them (handoff.go): as an outside
// watcher sees it, from step i's Job first seen Complete to step i+1's Job
// first seen, on the benchmark's own watch on Jobs.
//
// `make test` runs each with small sizes: they check that nothing is lost
// or doubled and that the figures come out, not how fast anything is.
package bench
