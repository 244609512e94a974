package render_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderIsPure: render imports no client and no clock, and reads no
// time. That is what makes its output a function of its inputs.
//
// Its own imports are checked, and the client packages transitively. (client-go's
// meta/v1 applyconfigurations import the discovery client for their Extract
// helpers, so rest and net/http are in the graph, unused by render.)
func TestRenderIsPure(t *testing.T) {
	direct := goList(t, "-f", "{{join .Imports \" \"}}", ".")
	for _, imp := range direct {
		for _, prefix := range []string{"k8s.io/client-go/kubernetes", "k8s.io/client-go/rest", "k8s.io/client-go/tools",
			"k8s.io/client-go/discovery", "k8s.io/client-go/dynamic", "sigs.k8s.io/controller-runtime", "net/http", "k8s.io/utils/clock", "os"} {
			assert.False(t, imp == prefix || strings.HasPrefix(imp, prefix+"/"), "render imports %s", imp)
		}
	}
	for _, dep := range goList(t, "-deps", ".") {
		for _, client := range []string{"sigs.k8s.io/controller-runtime/pkg/client", "k8s.io/client-go/kubernetes/typed", "k8s.io/client-go/dynamic"} {
			assert.False(t, dep == client || strings.HasPrefix(dep, client+"/"), "render depends on the client %s", dep)
		}
	}

	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					t.Errorf("%s: render reads the clock (time.%s); take now as an input", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "metav1" && sel.Sel.Name == "Now" {
					t.Errorf("%s: render reads the clock (metav1.Now)", fset.Position(sel.Pos()))
				}
			}
			return true
		})
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.Fields(string(out))
}
