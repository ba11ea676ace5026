package timeline

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's house rules: the core imports no
// clock, network, file system or SQL, no global randomness, and only the
// module packages its brief allows (keys, policy).
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "cmp": true, "errors": true, "fmt": true, "maps": true, "slices": true,
		"sort": true, "strings": true,
		"github.com/dispersy-go/dispersy/keys":   true,
		"github.com/dispersy-go/dispersy/policy": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %q; timeline is a pure core package (no clock, I/O or randomness; module imports keys and policy only)", f, p)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no non-test Go files found")
	}
}
