//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package database

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockStore takes an exclusive advisory lock (flock) on the store's lock
// file, <path>.lock, created with mode 0600 and left in place. The lock
// belongs to the open file description: a second Open, in this process or
// another, fails at once with ErrInUse; Close (or the death of the
// process) releases it. The lock is on a separate file because SQLite's
// POSIX locks on the database file are dropped when this process closes
// any descriptor of that file.
func lockStore(path string) (*os.File, error) {
	name := lockName(path)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database: open lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, _ := io.ReadAll(io.LimitReader(f, 24)); len(b) > 0 {
			holder = ", held by process " + strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked%s)", ErrInUse, name, holder)
		}
		return nil, fmt.Errorf("database: lock %s: %w", name, err)
	}
	// Name the holder for the error above; the lock, not the content, is
	// what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
