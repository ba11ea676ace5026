package database

import (
	"path/filepath"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
)

// openTemp opens a store in a new file under t.TempDir.
func openTemp(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		dispersytest.TestStore(t, func(t *testing.T) dispersy.Store { return openTemp(t, Options{}) })
	})
	t.Run("FileWriterReads", func(t *testing.T) {
		dispersytest.TestStore(t, func(t *testing.T) dispersy.Store { return openTemp(t, Options{ReadConns: -1}) })
	})
	t.Run("Memory", func(t *testing.T) {
		dispersytest.TestStore(t, func(t *testing.T) dispersy.Store {
			s, err := OpenMemory()
			if err != nil {
				t.Fatalf("OpenMemory: %v", err)
			}
			return s
		})
	})
}
