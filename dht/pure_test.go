package dht

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPure enforces the package's promise (doc.go, "Invariants"): no I/O,
// no clock, no randomness of its own. The same rules as the core's
// (core_imports_test.go at the module root), plus crypto/rand: even secrets
// come from the injected io.Reader.
func TestPure(t *testing.T) {
	banned := map[string]bool{"net": true, "os": true, "database/sql": true, "math/rand": true, "math/rand/v2": true, "crypto/rand": true}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if banned[imp] {
			t.Errorf("package dht imports %s", imp)
		}
	}
	clock := regexp.MustCompile(`\btime\.(Now|Since|Until|Sleep|After|AfterFunc|NewTimer|NewTicker|Tick)\(`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "//") && clock.MatchString(line) {
				t.Errorf("%s:%d reads the clock: %s", f, n+1, strings.TrimSpace(line))
			}
		}
	}
}
