// Package crd carries the installed form of the SequentialJob CRD
// (sequentialjobs.yaml, rendered by `make manifests`) so that offline tools,
// such as `sequentialjob render`, validate against exactly the schema and CEL
// rules the apiserver enforces.
package crd

import _ "embed"

// SequentialJobs is config/crd/sequentialjobs.yaml.
//
//go:embed sequentialjobs.yaml
var SequentialJobs []byte

// SequentialCronJobs is config/crd/sequentialcronjobs.yaml.
//
//go:embed sequentialcronjobs.yaml
var SequentialCronJobs []byte
