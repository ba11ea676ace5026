package database

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// requireVersion returns the version our go.mod-style text requires for
// module mod ("" if none).
func requireVersion(gomod []byte, mod string) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(f) >= 2 && f[0] == mod {
			return f[1]
		}
	}
	return ""
}

// semverAtLeast compares vX.Y.Z versions.
func semverAtLeast(v, min string) bool {
	parse := func(s string) [3]int {
		var out [3]int
		for i, p := range strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3) {
			p, _, _ = strings.Cut(p, "-")
			out[i], _ = strconv.Atoi(p)
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// TestLibcPin fails when the modernc.org/libc version in our go.mod differs
// from the one modernc.org/sqlite's go.mod names: the transpiled SQLite is
// tied to that exact libc, and a mismatch crashes at run time (sqlite
// issue #177). It also requires sqlite >= v1.61.1 (v1.61.0 re-parsed
// prepared statements on every run).
func TestLibcPin(t *testing.T) {
	ours, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sqliteV, libcV := requireVersion(ours, "modernc.org/sqlite"), requireVersion(ours, "modernc.org/libc")
	if sqliteV == "" || libcV == "" {
		t.Fatalf("go.mod requires modernc.org/sqlite %q and modernc.org/libc %q: pin both (go get modernc.org/sqlite@vX modernc.org/libc@<its version>)", sqliteV, libcV)
	}
	if !semverAtLeast(sqliteV, "v1.61.1") {
		t.Fatalf("modernc.org/sqlite %s: use v1.61.1 or later", sqliteV)
	}
	// sqlite's own go.mod, from the module cache (go env does not load
	// the module graph; go mod download is the fallback).
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cache, err := exec.Command(goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v (the test needs the go command)", err)
	}
	modPath := filepath.Join(strings.TrimSpace(string(cache)), "cache", "download", "modernc.org", "sqlite", "@v", sqliteV+".mod")
	if _, err := os.Stat(modPath); err != nil {
		out, err := exec.Command(goBin, "mod", "download", "-json", "modernc.org/sqlite@"+sqliteV).CombinedOutput()
		if err != nil {
			t.Fatalf("go mod download modernc.org/sqlite@%s: %v\n%s", sqliteV, err, out)
		}
		var dl struct{ GoMod string }
		if err := json.Unmarshal(out, &dl); err != nil {
			t.Fatal(err)
		}
		modPath = dl.GoMod
	}
	theirs, err := os.ReadFile(modPath)
	if err != nil {
		t.Fatalf("read modernc.org/sqlite's go.mod (%q): %v", modPath, err)
	}
	want := requireVersion(theirs, "modernc.org/libc")
	if want == "" {
		t.Fatalf("modernc.org/sqlite@%s's go.mod names no modernc.org/libc", sqliteV)
	}
	if libcV != want {
		t.Fatalf("go.mod has modernc.org/libc %s but modernc.org/sqlite %s requires exactly %s: run go get modernc.org/libc@%s", libcV, sqliteV, want, want)
	}
	// And the test binary linked those versions.
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, d := range info.Deps {
		switch d.Path {
		case "modernc.org/libc":
			if d.Version != want {
				t.Fatalf("linked modernc.org/libc %s, want %s", d.Version, want)
			}
		case "modernc.org/sqlite":
			if d.Version != sqliteV {
				t.Fatalf("linked modernc.org/sqlite %s, go.mod says %s", d.Version, sqliteV)
			}
		}
	}
}

func TestRequireVersion(t *testing.T) {
	mod := []byte("module x\n\nrequire modernc.org/sqlite v1.61.1\n\nrequire (\n\tmodernc.org/libc v1.79.0 // indirect\n\tmodernc.org/libcx v9\n)\n")
	for _, tc := range []struct{ mod, want string }{
		{"modernc.org/sqlite", "v1.61.1"}, {"modernc.org/libc", "v1.79.0"}, {"modernc.org/none", ""},
	} {
		if got := requireVersion(mod, tc.mod); got != tc.want {
			t.Errorf("requireVersion(%s) = %q, want %q", tc.mod, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v, min string
		want   bool
	}{{"v1.61.1", "v1.61.1", true}, {"v1.61.0", "v1.61.1", false}, {"v1.62.0", "v1.61.1", true}, {"v2.0.0", "v1.61.1", true}, {"v1.9.9", "v1.61.1", false}} {
		if got := semverAtLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("semverAtLeast(%s, %s) = %v", tc.v, tc.min, got)
		}
	}
}
