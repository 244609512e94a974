// Package bench holds the benchmark commands of issue "speed at scale":
// they drive many SequentialJobs through a real controller process and
// print their figures, one line each.
//
//   - TestScale (`make bench-scale`): envtest only, no Job controller; the
//     benchmark marks each Job complete the moment it appears, so the
//     controller, not the cluster, is the bottleneck.
//   - TestCluster (`make bench-cluster`): the local cluster, with the real
//     Job controller and kwok pods; a baseline of bare Jobs first.
//
// `make test` runs both with small sizes: they check that nothing is lost
// or doubled and that the figures come out, not how fast anything is.
package bench
