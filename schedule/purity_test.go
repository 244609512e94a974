package schedule_test

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

// TestDecideIsPure: the decision imports no client and no clock, and reads
// no time, as render (render/purity_test.go): its output is a function of
// the cron, its runs and now.
func TestDecideIsPure(t *testing.T) {
	// Its own imports, and the client packages transitively (apimachinery's
	// meta/v1 brings net/http into the graph, unused here).
	for _, imp := range goList(t, "-f", "{{join .Imports \" \"}}", ".") {
		for _, banned := range []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime", "net/http", "k8s.io/utils/clock", "os"} {
			assert.False(t, imp == banned || strings.HasPrefix(imp, banned+"/"), "schedule imports %s", imp)
		}
	}
	for _, dep := range goList(t, "-deps", ".") {
		for _, client := range []string{"sigs.k8s.io/controller-runtime/pkg/client", "k8s.io/client-go/kubernetes/typed", "k8s.io/client-go/dynamic"} {
			assert.False(t, dep == client || strings.HasPrefix(dep, client+"/"), "schedule depends on the client %s", dep)
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
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "time" || pkg.Name == "metav1") &&
					(sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					t.Errorf("%s: schedule reads the clock (%s.%s); take now as an input", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
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
