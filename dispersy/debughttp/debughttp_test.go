package debughttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// source is a settable snapshot source.
type source struct {
	mu  sync.Mutex
	s   dispersy.Snapshot
	err error
}

func (f *source) get(context.Context) (dispersy.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, f.err
}

func testSnapshot() dispersy.Snapshot {
	var s dispersy.Snapshot
	s.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.Member[0] = 0x42
	s.Stats.Received, s.Stats.Sent, s.Stats.Walks = 100, 90, 7
	s.Stats.Dropped[dispersy.DropDuplicate] = 3
	mk := func(port uint16, cat walker.Category) dispersy.Peer {
		return dispersy.Peer{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Category: cat}
	}
	a := dispersy.CommunitySnapshot{Overlay: "chat.Community", Messages: 12,
		Peers: []dispersy.Peer{mk(7001, walker.CategoryWalk), mk(7002, walker.CategoryStumble), mk(7003, walker.CategoryIntro)}}
	a.ID[0] = 1
	a.Stats.Received, a.Stats.Stored = 40, 12
	a.Stats.Dropped[dispersy.DropDuplicate] = 3
	b := dispersy.CommunitySnapshot{Overlay: "other.Overlay", Messages: 5,
		Peers: []dispersy.Peer{mk(7001, walker.CategoryWalk)}}
	b.ID[0] = 2
	for _, c := range []*dispersy.CommunitySnapshot{&a, &b} {
		for _, p := range c.Peers {
			c.PeersByCategory[p.Category]++
		}
	}
	s.Communities = []dispersy.CommunitySnapshot{a, b}
	return s
}

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPaths: the handler answers its paths at the root and under a
// prefix, with or without StripPrefix.
func TestPaths(t *testing.T) {
	src := &source{s: testSnapshot()}
	h := NewFromSource(src.get, nil)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/dispersy/", h)
	mux.Handle("/stripped/", http.StripPrefix("/stripped", h))
	for _, prefix := range []string{"", "/debug/dispersy", "/stripped"} {
		var handler http.Handler = mux
		if prefix == "" {
			handler = h
		}
		for _, tc := range []struct {
			path, ctype, want string
		}{
			{"/", "text/html", `id="peer-count"`},
			{"/app.js", "text/javascript", "status.json"},
			{"/style.css", "text/css", ".tiles"},
			{"/status.json", "application/json", `"member": "42`},
			{"/metrics", "text/plain", "dispersy_walks_total 7"},
		} {
			r := get(t, handler, http.MethodGet, prefix+tc.path)
			b := body(t, r)
			if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(b, tc.want) {
				t.Errorf("GET %s%s: %d %q, body has %q: %v", prefix, tc.path, r.StatusCode, r.Header.Get("Content-Type"), tc.want, strings.Contains(b, tc.want))
			}
		}
		if r := get(t, handler, http.MethodGet, prefix+"/nothing"); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s/nothing: %d, want 404", prefix, r.StatusCode)
		}
		if r := get(t, handler, http.MethodPost, prefix+"/status.json"); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s/status.json: %d, want 405", prefix, r.StatusCode)
		}
	}
	// The page loads nothing from elsewhere: every src and href is relative.
	page := body(t, get(t, h, http.MethodGet, "/"))
	for _, attr := range []string{`src="`, `href="`} {
		for _, part := range strings.Split(page, attr)[1:] {
			if u := part[:strings.IndexByte(part, '"')]; strings.Contains(u, ":") || strings.HasPrefix(u, "/") {
				t.Errorf("the page refers to %q", u)
			}
		}
	}
}

// TestStatusJSON: status.json holds the snapshot's numbers.
func TestStatusJSON(t *testing.T) {
	src := &source{s: testSnapshot()}
	h := NewFromSource(src.get, nil)
	defer h.Close()
	var st Status
	if err := json.NewDecoder(get(t, h, http.MethodGet, "/status.json").Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Peers != 2 || st.Messages != 17 || len(st.Communities) != 2 {
		t.Fatalf("peers %d (want 2 distinct verified), messages %d (want 17), %d communities", st.Peers, st.Messages, len(st.Communities))
	}
	c := st.Communities[0]
	if c.ID != "0100000000000000000000000000000000000000" || c.Messages != 12 || c.VerifiedPeers != 2 ||
		c.PeersByCategory["intro"] != 1 || len(c.Peers) != 3 || c.Peers[0].Addr != "127.0.0.1:7001" || c.Peers[0].Category != "walk" {
		t.Errorf("community %+v", c)
	}
	if c.Counters["received"] != 40 || c.Counters["stored"] != 12 || c.Counters["dropped"] != 3 || c.Counters["delayed"] != 0 {
		t.Errorf("community counters %v", c.Counters)
	}
	if st.Stats.Received != 100 || st.Stats.Dropped["duplicate"] != 3 || st.Stats.DroppedTotal != 3 || len(st.Stats.Dropped) != 1 {
		t.Errorf("stats %+v", st.Stats)
	}
}

// TestSnapshotFails: a node that cannot be read gives 503 with the error,
// and the page's script shows it.
func TestSnapshotFails(t *testing.T) {
	src := &source{err: dispersy.ErrNodeClosed}
	h := NewFromSource(src.get, nil)
	defer h.Close()
	r := get(t, h, http.MethodGet, "/status.json")
	if b := body(t, r); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, dispersy.ErrNodeClosed.Error()) {
		t.Errorf("status %d, body %q", r.StatusCode, b)
	}
	if r := get(t, h, http.MethodGet, "/metrics"); r.StatusCode != http.StatusInternalServerError {
		t.Errorf("metrics status %d, want 500", r.StatusCode)
	}
}

// TestHistory: samples become per-second rates, and drop count increases
// become recent drops; both keep only the newest entries.
func TestHistory(t *testing.T) {
	src := &source{s: testSnapshot()}
	h := NewFromSource(src.get, &Options{History: 3, RecentDrops: 2})
	defer h.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(i int, mutate func(*dispersy.Stats)) {
		src.mu.Lock()
		mutate(&src.s.Stats)
		src.mu.Unlock()
		h.sample(context.Background(), t0.Add(time.Duration(i)*2*time.Second))
	}
	step(0, func(*dispersy.Stats) {})
	step(1, func(s *dispersy.Stats) { s.Received += 10; s.Stored += 4; s.Dropped[dispersy.DropBadSignature] += 2 })
	st, err := h.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 1 {
		t.Fatalf("%d samples in the history, want 1 (the first sample has no rates)", len(st.History))
	}
	r := st.History[0]
	if r.Received != 5 || r.Stored != 2 || r.Dropped != 1 || r.Sent != 0 || r.Peers != 2 || r.Messages != 17 {
		t.Errorf("rates %+v: want received 5/s, stored 2/s, dropped 1/s, 2 peers, 17 messages", r)
	}
	if len(st.RecentDrops) != 1 || st.RecentDrops[0].Reason != "bad-signature" || st.RecentDrops[0].Count != 2 {
		t.Errorf("recent drops %+v", st.RecentDrops)
	}
	step(2, func(s *dispersy.Stats) { s.Dropped[dispersy.DropDuplicate]++; s.Dropped[dispersy.DropRejected] += 5 })
	step(3, func(s *dispersy.Stats) { s.Received++ })
	step(4, func(s *dispersy.Stats) { s.Received++ })
	st, _ = h.Status(context.Background())
	if len(st.History) != 3 || !st.History[0].Time.Equal(t0.Add(4*time.Second)) || !st.History[2].Time.Equal(t0.Add(8*time.Second)) {
		t.Errorf("history keeps %d samples from %v to %v, want the newest 3", len(st.History), st.History[0].Time, st.History[len(st.History)-1].Time)
	}
	if len(st.RecentDrops) != 2 || st.RecentDrops[0].Reason != "duplicate" || st.RecentDrops[1].Reason != "rejected" || st.RecentDrops[1].Count != 5 {
		t.Errorf("recent drops %+v, want the newest 2 (duplicate 1, rejected 5)", st.RecentDrops)
	}
	// A failed snapshot adds no sample.
	src.mu.Lock()
	src.err = errors.New("stopped")
	src.mu.Unlock()
	h.sample(context.Background(), t0.Add(10*time.Second))
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()
	st, _ = h.Status(context.Background())
	if got := st.History[2].Time; !got.Equal(t0.Add(8 * time.Second)) {
		t.Errorf("a failed snapshot added a sample at %v", got)
	}
}

// TestSamplerStartsAndStops: the first request starts sampling, Close
// stops it, and a handler never served closes at once.
func TestSamplerStartsAndStops(t *testing.T) {
	src := &source{s: testSnapshot()}
	NewFromSource(src.get, nil).Close()
	h := NewFromSource(src.get, &Options{Interval: time.Millisecond})
	get(t, h, http.MethodGet, "/")
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := h.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.History) >= 2 {
			break // three samples
		}
		if time.Now().After(deadline) {
			t.Fatal("the sampler did not sample twice within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.Close()
	h.Close()
	st, _ := h.Status(context.Background())
	n := len(st.History)
	get(t, h, http.MethodGet, "/")
	time.Sleep(20 * time.Millisecond)
	if st, _ := h.Status(context.Background()); len(st.History) != n {
		t.Errorf("history grew from %d to %d after Close", n, len(st.History))
	}
}

// TestCloseEndsSnapshot: Close does not wait for a snapshot that cannot
// finish (a node that is not running yet).
func TestCloseEndsSnapshot(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	h := NewFromSource(func(ctx context.Context) (dispersy.Snapshot, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return dispersy.Snapshot{}, ctx.Err()
	}, &Options{Timeout: time.Hour})
	go get(t, h, http.MethodGet, "/")
	<-started
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close waits for the snapshot in progress")
	}
}
