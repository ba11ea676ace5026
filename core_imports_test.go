package dispersy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The protocol core does no I/O (DESIGN.md §2, §3): its packages import no
// net, no database/sql, no os, no SQL driver, and read no clock (only
// dispersy/node.go, the runner, may). This test enforces it; see
// docs/design.md.
var corePackages = []string{
	"keys", "policy", "conversion", "timeline",
	"dispersy", "dispersy/bloom", "dispersy/walker", "dispersy/requestcache",
	"dispersy/reconcile", "dispersy/recent", "dispersy/tasks", "dht",
	"dispersy/payload",
}

var bannedImports = map[string]string{
	"net":                "sans-I/O core: the endpoint lives in dispersy/udp",
	"os":                 "no files or environment in the core",
	"database/sql":       "the core talks to persistence through dispersy.Store",
	"modernc.org/sqlite": "only package database may use the driver",
	"math/rand":          "randomness comes from an injected math/rand/v2 *rand.Rand",
}

func TestCoreImports(t *testing.T) {
	for _, pkg := range corePackages {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "github.com/dispersy-go/dispersy/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if why, ok := bannedImports[imp]; ok {
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
	}
}

// wallClock matches calls that read the clock or sleep, and the global
// math/rand/v2 functions (a package-level rand.X call, not a method).
var wallClock = regexp.MustCompile(`\btime\.(Now|Since|Until|Sleep|After|AfterFunc|NewTimer|NewTicker|Tick)\(|\brand\.(Int|Uint|Float|Perm|Shuffle|N\b|IntN|Int64|Uint64|Uint32|Int32)\w*\(`)

func TestCoreNoClock(t *testing.T) {
	for _, pkg := range corePackages {
		files, err := filepath.Glob(filepath.Join(pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || f == filepath.Join("dispersy", "node.go") {
				continue
			}
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if strings.HasPrefix(strings.TrimSpace(line), "//") || strings.Contains(line, "//lint:allow") {
					continue
				}
				if loc := wallClock.FindString(line); loc != "" {
					t.Errorf("%s:%d: %s: the core takes time as an argument and randomness from an injected *rand.Rand", f, n, loc)
				}
			}
			fh.Close()
		}
	}
}
