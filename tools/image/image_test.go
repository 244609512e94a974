package main

import (
	"archive/tar"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testBuild is what `make image` passes, for the one platform this test can
// run (the arm64 image differs only by GOARCH; `make image` builds both).
func testBuild(t *testing.T, out string) *Result {
	t.Helper()
	res, err := Build(BuildOptions{
		Src: "../..", Out: out,
		Name: "registry.example.com/sequentialjob/sequentialjob-controller", Version: "1.2.3", Revision: "0123abcd",
		Source: "https://example.com/sequentialjob", Created: time.Unix(1700000000, 0).UTC(),
		Architectures: []string{"amd64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestImage builds the image twice and checks what a runtime sees: the
// same digest both times, an OCI index with a linux/amd64 image whose
// config runs the controller as a non-root user with the OCI labels, and a
// static binary in the layer that runs (--help, --version).
func TestImage(t *testing.T) {
	first, second := testBuild(t, t.TempDir()), testBuild(t, t.TempDir())
	if first.Digest != second.Digest {
		t.Errorf("two builds of one commit gave two digests: %s and %s", first.Digest, second.Digest)
	}
	if a, b := fileSum(t, first.Archive), fileSum(t, second.Archive); a != b {
		t.Errorf("two builds gave two different archives")
	}
	digestFile, err := os.ReadFile(first.DigestFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(digestFile)); got != first.Digest.String() {
		t.Errorf("%s says %s, the index is %s", first.DigestFile, got, first.Digest)
	}

	img := amd64Image(t, first.Layout)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("os/arch", cfg.OS+"/"+cfg.Architecture, "linux/amd64")
	check("entrypoint", cfg.Config.Entrypoint, []string{"/sequentialjob-controller"})
	check("user", cfg.Config.User, "65532:65532")
	check("created", cfg.Created.UTC(), time.Unix(1700000000, 0).UTC())
	check("label source", cfg.Config.Labels[LabelSource], "https://example.com/sequentialjob")
	check("label version", cfg.Config.Labels[LabelVersion], "1.2.3")
	check("label revision", cfg.Config.Labels[LabelRevision], "0123abcd")
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	check("manifest media type", mt, types.OCIManifestSchema1)

	binary := extract(t, img, "sequentialjob-controller")
	requireStatic(t, binary)
	help, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, help)
	}
	for _, flag := range []string{"-metrics-bind-address", "-leader-elect", "-health-probe-bind-address"} {
		if !strings.Contains(string(help), flag) {
			t.Errorf("--help does not mention %s:\n%s", flag, help)
		}
	}
	version, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, version)
	}
	check("--version", strings.TrimSpace(string(version)), "sequentialjob-controller 1.2.3 (revision 0123abcd)")
}

// amd64Image opens the layout as a runtime would: index.json, then the
// image index, then the platform's manifest.
func amd64Image(t *testing.T, dir string) v1.Image {
	t.Helper()
	outer, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := outer.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: want one OCI image index, got %+v", m.Manifests)
	}
	if name := m.Manifests[0].Annotations["io.containerd.image.name"]; name != "registry.example.com/sequentialjob/sequentialjob-controller:1.2.3" {
		t.Errorf("the layout names the image %q", name)
	}
	idx, err := outer.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		if desc.Platform != nil && desc.Platform.OS == "linux" && desc.Platform.Architecture == "amd64" {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no linux/amd64 image in %+v", im.Manifests)
	return nil
}

// extract writes the file at path in the image's filesystem to a temporary
// file and returns its name, after checking its mode and owner.
func extract(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }() // read side: nothing is lost
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not in the image", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name != path {
			continue
		}
		if hdr.Mode != 0o755 || hdr.Uid != 0 {
			t.Errorf("%s: mode %o uid %d, want 755 owned by root (the user runs it, cannot change it)", path, hdr.Mode, hdr.Uid)
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// requireStatic fails when the binary asks for a dynamic loader, which the
// empty base does not have.
func requireStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read side: nothing is lost
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked: the empty base has no loader", path)
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		b, ok := b.([]string)
		return ok && strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	}
	return a == b
}
