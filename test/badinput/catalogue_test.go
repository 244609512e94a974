package badinput_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The layers, in the order a request meets them.
const (
	layerDecode     = "decode"
	layerSchema     = "schema"
	layerCEL        = "cel"
	layerPolicy     = "policy"
	layerDryRun     = "dry-run"
	layerController = "controller"
	layerAccepted   = "accepted"
)

var layers = []string{layerDecode, layerSchema, layerCEL, layerPolicy, layerDryRun, layerController, layerAccepted}

// namespaceLabels are the label sets a case's namespace key picks.
var namespaceLabels = map[string]map[string]string{
	"":         nil,
	"baseline": {"pod-security.kubernetes.io/enforce": "baseline"},
	"enforce":  {"policies.batch.example.com/mode": "enforce"},
}

// limitedUser may create SequentialJobs and Jobs, and nothing else: not
// impersonate a ServiceAccount, as the built-in edit role may.
const limitedUser = "limited"

var limitedRules = []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{"batch"}, Resources: []string{"jobs"}}}

// badCase is one file of cases/ (see doc.go for the header).
type badCase struct {
	Name      string
	Layer     string
	Message   string
	Namespace string
	Old       string
	// User, when set, is "limited": the request is made by a user who may
	// create SequentialJobs and Jobs in the namespace, and nothing else.
	User string
	Why  string
	// Gap says why layer does not refuse the case yet, and the fix: until
	// then the tests hold it to today's behaviour (admitted; its first Job
	// is created), so that they fail, and the case is moved, once fixed.
	Gap string
	// OfflineGap says why config/crd's offline validator disagrees with the
	// apiserver on the case: the offline test expects the opposite verdict.
	OfflineGap string
	// Raw is the file as a user applies it.
	Raw []byte
}

// layerToday is the layer that refuses the case today: its layer, or for a
// known gap, none.
func (c badCase) layerToday() string {
	if c.Gap != "" {
		return layerAccepted
	}
	return c.Layer
}

// admitted is true for the cases the apiserver stores.
func (c badCase) admitted() bool {
	l := c.layerToday()
	return l == layerDryRun || l == layerController || l == layerAccepted
}

func (c badCase) update() bool { return c.Old != "" }

func loadCatalogue(t *testing.T) []badCase { return loadCatalogueFrom(t, "cases") }

func loadCatalogueFrom(t *testing.T, dir string) []badCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	var out []badCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		c, err := parseHeader(raw)
		require.NoError(t, err, f)
		c.Name, c.Raw = strings.TrimSuffix(filepath.Base(f), ".yaml"), raw
		out = append(out, c)
	}
	return out
}

func parseHeader(raw []byte) (badCase, error) {
	var c badCase
	scanner := bufio.NewScanner(bytes.NewReader(raw))
	scanner.Buffer(nil, 1<<20)
	last := ""
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		if rest, ok := strings.CutPrefix(line, "#   "); ok {
			switch last {
			case "why":
				c.Why += " " + rest
			case "gap":
				c.Gap += " " + rest
			case "offline-gap":
				c.OfflineGap += " " + rest
			default:
				return c, fmt.Errorf("continuation line %q after %q", line, last)
			}
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		if !ok && !strings.HasSuffix(line, ":") {
			return c, fmt.Errorf("header line %q is not '# key: value'", line)
		}
		switch key {
		case "layer":
			c.Layer = value
		case "message":
			c.Message = value
		case "namespace":
			c.Namespace = value
		case "old":
			c.Old = value
		case "user":
			c.User = value
		case "why":
			c.Why = value
		case "gap":
			c.Gap = value
		case "offline-gap":
			c.OfflineGap = value
		default:
			return c, fmt.Errorf("unknown header key %q", key)
		}
		last = key
	}
	switch {
	case !slices.Contains(layers, c.Layer):
		return c, fmt.Errorf("layer %q is not one of %v", c.Layer, layers)
	case c.Layer != layerAccepted && c.Message == "":
		return c, fmt.Errorf("a %s case needs a message: what the user reads", c.Layer)
	case c.Why == "":
		return c, fmt.Errorf("why is required: say what the case is about")
	}
	if c.User != "" && c.User != limitedUser {
		return c, fmt.Errorf("user %q is not %s", c.User, limitedUser)
	}
	if _, ok := namespaceLabels[c.Namespace]; !ok {
		return c, fmt.Errorf("namespace %q is not one of baseline, enforce", c.Namespace)
	}
	return c, nil
}

// decodeStrict reads a YAML document as the apiserver reads a request body
// with fieldValidation=Strict: duplicate keys are errors.
func decodeStrict(raw []byte) (map[string]any, error) {
	data, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// loadStored reads a stored object (status included) that an update case
// replaces.
func loadStored(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	obj, err := decodeStrict(raw)
	require.NoError(t, err, path)
	return obj
}

// TestCatalogue: the promise of at least 40 cases, every layer and
// every kind of bad input it names represented, and each stored object
// used.
func TestCatalogue(t *testing.T) {
	cases := loadCatalogue(t)
	require.GreaterOrEqual(t, len(cases), 40, "the catalogue promises at least 40 cases")
	byLayer := map[string]int{}
	for _, c := range cases {
		byLayer[c.Layer]++
		if c.Gap != "" {
			t.Logf("known gap: %s (%s): %s", c.Name, c.Layer, c.Gap)
		}
		if c.OfflineGap != "" {
			t.Logf("offline gap: %s: %s", c.Name, c.OfflineGap)
		}
		if c.update() {
			_, err := os.Stat(c.Old)
			assert.NoError(t, err, "%s: old", c.Name)
		}
	}
	for _, l := range layers {
		assert.Positive(t, byLayer[l], "no case of layer %s", l)
	}
	t.Logf("cases by layer: %v (%d in all)", byLayer, len(cases))
}
