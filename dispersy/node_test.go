package dispersy_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	dt "github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/dispersy/walker"
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

// flakyResolver fails its first lookups, as a resolver does before the
// network is up.
type flakyResolver struct {
	*udp.Endpoint
	fail  int32
	calls atomic.Int32
}

func (f *flakyResolver) Resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	if f.calls.Add(1) <= f.fail {
		return nil, errors.New("test: temporary failure in name resolution")
	}
	return f.Endpoint.Resolve(ctx, hostport)
}

// Issue #14: bootstrap addresses may be host names; the node resolves them
// at start and again after a failed lookup, and walks to the result.
func TestNodeBootstrapHostName(t *testing.T) {
	for _, fail := range []int32{0, 2} {
		t.Run(fmt.Sprintf("failing %d lookups", fail), func(t *testing.T) {
			tracker, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer tracker.Close()
			got := make(chan netip.AddrPort, 1)
			go func() {
				buf := make([]byte, 2048)
				for {
					n, from, err := tracker.Receive(buf)
					if err != nil {
						return
					}
					if n > 22 && buf[22] == dispersy.IDIntroductionRequest {
						select {
						case got <- from:
						default:
						}
					}
				}
			}()
			ep, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			res := &flakyResolver{Endpoint: ep, fail: fail}
			cfg := dispersy.DefaultNodeConfig()
			cfg.Engine.Walker = walker.DefaultConfig().Scaled(50 * time.Millisecond)
			cfg.BootstrapHosts = []string{fmt.Sprintf("localhost:%d", tracker.LocalAddr().Port())}
			cfg.BootstrapRefresh = 50 * time.Millisecond
			node, err := dispersy.NewNode(cfg, keys.DeriveKey(keys.Ed25519, []byte("bootstrap by name")), dt.NewMemStore(), res)
			if err != nil {
				ep.Close()
				t.Fatal(err)
			}
			defer node.Close()
			go func() { _ = node.Run(context.Background()) }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := node.Join(ctx, dt.NewDebugCommunity()); err != nil {
				t.Fatal(err)
			}
			select {
			case from := <-got:
				if from != ep.LocalAddr() {
					t.Fatalf("introduction request from %v, want the node %v", from, ep.LocalAddr())
				}
			case <-ctx.Done():
				t.Fatalf("no introduction request reached the tracker named %s (%d lookups)", cfg.BootstrapHosts[0], res.calls.Load())
			}
			if n := res.calls.Load(); n < fail+1 {
				t.Fatalf("%d lookups, want at least %d", n, fail+1)
			}
		})
	}
}

func TestNodeConfigBootstrapHosts(t *testing.T) {
	cfg := dispersy.DefaultNodeConfig()
	cfg.BootstrapHosts = []string{"localhost:6421", "[::1]:6421", "tracker.example.org", "host:0", ":6421", "host:x"}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad BootstrapHosts")
	}
	for _, bad := range []string{`"tracker.example.org"`, `"host:0"`, `":6421"`, `"host:x"`} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("Validate did not report %s: %v", bad, err)
		}
	}
	for _, good := range []string{`"localhost:6421"`, `"[::1]:6421"`} {
		if strings.Contains(err.Error(), good) {
			t.Errorf("Validate reported %s: %v", good, err)
		}
	}
}
