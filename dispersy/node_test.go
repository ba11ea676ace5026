package dispersy_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
)

// errDiskFull stands for a store write that fails (ENOSPC).
var errDiskFull = errors.New("test: no space left on device")

// fullStore is a MemStore whose writes fail once full is set.
type fullStore struct {
	*dt.MemStore
	full atomic.Bool
}

func (s *fullStore) Apply(b *dispersy.Batch) error {
	if s.full.Load() {
		return errDiskFull
	}
	return s.MemStore.Apply(b)
}

// newLoopbackNode starts a Node on a loopback UDP socket with no bootstrap
// address, so no datagram ever arrives unless the test sends one.
func newLoopbackNode(t *testing.T, store dispersy.Store) (*dispersy.Node, chan error) {
	t.Helper()
	ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	node, err := dispersy.NewNode(dispersy.DefaultNodeConfig(), keys.DeriveKey(keys.Ed25519, []byte("node test")), store, ep)
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(context.Background()) }()
	t.Cleanup(func() { _ = node.Close() })
	return node, done
}

// Issue #12: when the engine fails inside Node.Do (a full disk during
// Create), Run returns that failure at once instead of waiting for the next
// datagram, which here never comes.
func TestNodeRunReturnsWhenDoFailsTheEngine(t *testing.T) {
	store := &fullStore{MemStore: dt.NewMemStore()}
	node, done := newLoopbackNode(t, store)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := node.Join(ctx, dt.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	store.full.Store(true)
	err := node.Do(ctx, func(e *dispersy.Engine) error {
		_, err := dispersy.Create(e.Community(debugCID), dt.FullSyncText, dt.Text{Text: "no room"})
		return err
	})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Create on a full disk: %v, want %v", err, errDiskFull)
	}
	select {
	case err := <-done:
		if !errors.Is(err, dispersy.ErrEngineFailed) || !errors.Is(err, errDiskFull) {
			t.Fatalf("Run returned %v, want the engine failure wrapping %v", err, errDiskFull)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after the engine failed inside Do")
	}
}

// Issue #14: a real node's random choices (request identifiers, walk
// targets, sync ranges) must not follow from its public member id; with
// Config.Rand nil NewNode draws from a cryptographic generator. (NewEngine,
// which the simulator uses, stays seeded from the member id.)
func TestNewNodeRandIsNotTheMemberSeed(t *testing.T) {
	draw := func() uint64 {
		node, _ := newLoopbackNode(t, dt.NewMemStore())
		var r uint64
		err := node.Do(context.Background(), func(e *dispersy.Engine) error {
			if e.Config().Rand == nil {
				return errors.New("NewNode left Config.Rand nil: the engine seeds it from the member id")
			}
			r = e.Config().Rand.Uint64()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if a, b := draw(), draw(); a == b {
		t.Fatalf("two nodes with the same key drew the same first number %#x", a)
	}
}
