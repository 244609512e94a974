// Command image builds the controller's OCI image from Go alone, with no
// Docker and no base image: a static binary in one layer on an empty base,
// one image per platform under an OCI index. `make image` runs `build`, and
// `make image-push` runs `push`.
//
//	go run ./image build -src .. -out ../dist -name REPO -version V -revision R -source URL -epoch N
//	go run ./image push -layout ../dist/image REPO:TAG
//
// Two builds of one commit give the same digest: the binary is built with
// -trimpath and fixed -ldflags, and every timestamp (files, config, history)
// is -epoch, the commit's time (SOURCE_DATE_EPOCH).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: image build|push [flags]")
	}
	switch args[0] {
	case "build":
		return runBuild(args[1:])
	case "push":
		return runPush(args[1:])
	}
	return fmt.Errorf("unknown subcommand %q: want build or push", args[0])
}

func runBuild(args []string) error {
	var o BuildOptions
	var platforms string
	var epoch int64
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.StringVar(&o.Src, "src", ".", "root of the sequentialjob module")
	fs.StringVar(&o.Out, "out", "dist", "output directory: image/ (OCI layout), sequentialjob-controller.tar (OCI archive), image.digest")
	fs.StringVar(&o.Name, "name", "sequentialjob-controller", "repository the image is named after in the layout and archive (REGISTRY/PATH)")
	fs.StringVar(&o.Version, "version", "0.0.0-dev", "version: the tag, the binary's -version and the org.opencontainers.image.version label")
	fs.StringVar(&o.Revision, "revision", "unknown", "source revision (git commit) for the binary and the org.opencontainers.image.revision label")
	fs.StringVar(&o.Source, "source", "", "org.opencontainers.image.source label: where the source lives")
	fs.Int64Var(&epoch, "epoch", 0, "every timestamp in the image, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated OS/ARCH list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Created = time.Unix(epoch, 0).UTC()
	for _, p := range strings.Split(platforms, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || os != "linux" {
			return fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		o.Architectures = append(o.Architectures, arch)
	}
	res, err := Build(o)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", res.Ref, res.Digest)
	for _, m := range res.Manifests {
		fmt.Printf("  %s %s (%d bytes compressed)\n", m.Platform, m.Digest, m.Size)
	}
	fmt.Printf("wrote %s, %s and %s\n", res.Layout, res.Archive, res.DigestFile)
	return nil
}
