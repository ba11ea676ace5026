package dispersy_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// TestCreateCommunityRestart: the admin calls CreateCommunity on every start;
// across a restart on SQLite the master signs one authorize, not one per
// start, and our member keeps its permissions.
func TestCreateCommunityRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.db")
	admin := keys.DeriveKey(keys.Ed25519, []byte("create community admin"))
	start := func() (*dispersy.Community, *database.Store) {
		t.Helper()
		s, err := database.Open(path, database.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := dispersy.NewEngine(dispersy.DefaultConfig(), admin, s)
		if err != nil {
			t.Fatal(err)
		}
		e.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		c, err := e.CreateCommunity(dispersytest.NewDebugCommunity(), dispersytest.DebugMaster)
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	authorizes := func(c *dispersy.Community) int {
		t.Helper()
		n := 0
		err := c.Engine().Store().Replay(c.ID(), []uint8{dispersy.IDAuthorize}, func(r *dispersy.Record) bool {
			if r.Member == dispersytest.DebugMaster.ID() {
				n++
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	c, s := start()
	if n := authorizes(c); n != 1 {
		t.Fatalf("after the first start: %d master authorizes, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, s = start()
		if n := authorizes(c); n != 1 {
			t.Errorf("after a restart: %d master authorizes, want 1", n)
		}
		if !c.Allowed(admin.ID(), dispersytest.ProtectedText, dispersy.Permit|dispersy.PermAuthorize) {
			t.Error("the admin lost its permissions")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
