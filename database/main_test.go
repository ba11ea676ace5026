package database

import (
	"bufio"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"testing"
)

var (
	updateFixtures = flag.Bool("update-fixtures", false, "rewrite the fixture databases in testdata/ and exit")
	long           = flag.Bool("long", false, "run the long versions of the crash and fault tests")
)

// lockChildEnv makes the test binary a child process that holds a lock on
// a database (see TestLocked): "<mode>:<path>".
const lockChildEnv = "DISPERSY_DB_LOCK_CHILD"

func TestMain(m *testing.M) {
	flag.Parse()
	if v := os.Getenv(lockChildEnv); v != "" {
		os.Exit(lockChild(v))
	}
	if *updateFixtures {
		if err := writeFixtures("testdata"); err != nil {
			fmt.Fprintln(os.Stderr, "update fixtures:", err)
			os.Exit(1)
		}
		fmt.Println("fixtures written to testdata/")
		os.Exit(0)
	}
	code := m.Run()
	removeBenchFixture()
	os.Exit(code)
}

// lockChild opens the database named by spec and holds a lock on it until
// its stdin closes: "store" is a Store opened by Open, "write" holds BEGIN EXCLUSIVE (other processes can
// still read, WAL), "exclusive" uses locking_mode=EXCLUSIVE like Python
// Dispersy (other processes can neither read nor write).
func lockChild(spec string) int {
	mode, path, ok := cutSpec(spec)
	if !ok {
		fmt.Fprintln(os.Stderr, "bad lock child spec", spec)
		return 2
	}
	if mode == "store" { // a dispersy-go process holding its store
		s, err := Open(path, Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer s.Close()
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		return 0
	}
	q := url.Values{}
	if mode == "exclusive" {
		q.Add("_pragma", "locking_mode(EXCLUSIVE)")
	}
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn := db
	steps := []string{"BEGIN EXCLUSIVE", "INSERT INTO option (key, value) VALUES ('lock child', x'01') ON CONFLICT (key) DO UPDATE SET value = excluded.value"}
	if mode == "exclusive" {
		steps = append(steps, "COMMIT") // the exclusive locking mode keeps the lock
	}
	for _, st := range steps {
		if _, err := conn.Exec(st); err != nil {
			fmt.Fprintln(os.Stderr, st, err)
			return 1
		}
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}

func cutSpec(s string) (mode, path string, ok bool) {
	for i := range len(s) {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}
