package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts; the test checks them in the built image.
const (
	// Entrypoint is the controller binary's path in the image.
	Entrypoint = "/sequentialjob-controller"
	// User is distroless's "nonroot": no user database is needed for a
	// numeric user, and a numeric one lets the kubelet enforce runAsNonRoot.
	User = "65532:65532"

	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
)

// BuildOptions say what to build and where to write it.
type BuildOptions struct {
	Src, Out                        string
	Name, Version, Revision, Source string
	Created                         time.Time
	Architectures                   []string
}

// Result names what Build wrote.
type Result struct {
	Ref                         string
	Digest                      v1.Hash
	Manifests                   []Manifest
	Layout, Archive, DigestFile string
}

// Manifest is one platform's image in the index.
type Manifest struct {
	Platform string
	Digest   v1.Hash
	Size     int64
}

// Build compiles the controller for each architecture, assembles one image
// per architecture and an index over them, and writes the index as an OCI
// layout, an OCI archive (the layout as one tar) and its digest.
func Build(o BuildOptions) (*Result, error) {
	labels := map[string]string{
		LabelTitle:    "sequentialjob-controller",
		LabelVersion:  o.Version,
		LabelRevision: o.Revision,
		LabelCreated:  o.Created.Format(time.RFC3339),
	}
	if o.Source != "" {
		labels[LabelSource] = o.Source
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	res := &Result{Ref: o.Name + ":" + o.Version}
	for _, arch := range o.Architectures {
		binary, err := compile(o, arch)
		if err != nil {
			return nil, err
		}
		img, err := imageOf(binary, arch, o.Created, labels)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", arch, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return nil, err
		}
		size, err := compressedSize(img)
		if err != nil {
			return nil, err
		}
		res.Manifests = append(res.Manifests, Manifest{Platform: "linux/" + arch, Digest: digest, Size: size})
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch},
		}})
	}
	// Registries show the index's annotations; runtimes read the labels.
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)
	var err error
	if res.Digest, err = idx.Digest(); err != nil {
		return nil, err
	}

	res.Layout = filepath.Join(o.Out, "image")
	res.Archive = filepath.Join(o.Out, "sequentialjob-controller.tar")
	res.DigestFile = filepath.Join(o.Out, "image.digest")
	if err := writeLayout(res.Layout, idx, res.Ref); err != nil {
		return nil, err
	}
	if err := writeArchive(res.Archive, res.Layout, o.Created); err != nil {
		return nil, err
	}
	return res, os.WriteFile(res.DigestFile, []byte(res.Digest.String()+"\n"), 0o644)
}

// compile builds a static controller binary for linux/arch. -trimpath and
// -buildvcs=false keep the build's directory and the work tree's state out
// of the binary, so that the same commit gives the same bytes anywhere.
func compile(o BuildOptions, arch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "sequentialjob-image-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory: a leftover is harmless
	out := filepath.Join(dir, "sequentialjob-controller")
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.revision=%s", o.Version, o.Revision)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/sequentialjob-controller")
	cmd.Dir = o.Src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for linux/%s: %w\n%s", arch, err, msg)
	}
	return os.ReadFile(out)
}

// imageOf is an image with one layer, the binary, and a config that runs it
// as User.
func imageOf(binary []byte, arch string, created time.Time, labels map[string]string) (v1.Image, error) {
	layerTar, err := layerWith(binary, created)
	if err != nil {
		return nil, err
	}
	// Compressed once here: given gzip, ggcr uses the bytes as they are,
	// where it would compress again for every digest, size and write.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(layerTar); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "tools/image: the static controller binary",
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Entrypoint = []string{Entrypoint}
	cfg.Config.User = User
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = labels
	return mutate.ConfigFile(img, cfg)
}

// layerWith is the layer's tar: the binary, owned by root and executable by
// anyone (User among them), dated created.
func layerWith(binary []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Name:     Entrypoint[1:],
		Typeflag: tar.TypeReg,
		Mode:     0o755,
		Size:     int64(len(binary)),
		ModTime:  created,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func compressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}
