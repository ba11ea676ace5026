package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/metrics"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

func fixed(s dispersy.Snapshot) metrics.Source {
	return func(context.Context) (dispersy.Snapshot, error) { return s, nil }
}

// TestExposition checks names, types, labels and values of a known
// snapshot against the text format.
func TestExposition(t *testing.T) {
	var s dispersy.Snapshot
	s.Stats.Received, s.Stats.Sent, s.Stats.Stored = 10, 12, 7
	s.Stats.Walks, s.Stats.WalkReplies, s.Stats.SyncPackets = 5, 4, 3
	s.Stats.Dropped[dispersy.DropDuplicate] = 2
	cs := dispersy.CommunitySnapshot{Overlay: "chat.Community", Messages: 42, Delayed: 1, GlobalTime: 99}
	cs.ID[0], cs.ID[19] = 0xab, 0x01
	cs.PeersByCategory[walker.CategoryWalk] = 2
	cs.PeersByCategory[walker.CategoryIntro] = 1
	s.Communities = []dispersy.CommunitySnapshot{cs}
	s.TrackerCommunities = 3
	c := metrics.NewFromSource(fixed(s))

	id := "ab00000000000000000000000000000000000001"
	want := fmt.Sprintf(`# HELP dispersy_community_messages Live messages of the community's synced types in the store (the store size).
# TYPE dispersy_community_messages gauge
dispersy_community_messages{community="%[1]s",overlay="chat.Community"} 42
# HELP dispersy_community_peers Peers the community's walker knows, by category (walk and stumble are verified).
# TYPE dispersy_community_peers gauge
dispersy_community_peers{category="discovered",community="%[1]s"} 0
dispersy_community_peers{category="intro",community="%[1]s"} 1
dispersy_community_peers{category="stumble",community="%[1]s"} 0
dispersy_community_peers{category="walk",community="%[1]s"} 2
# HELP dispersy_received_packets_total Datagrams handed to the engine.
# TYPE dispersy_received_packets_total counter
dispersy_received_packets_total 10
# HELP dispersy_sync_packets_total Packets sent in answer to bloom-filter syncs.
# TYPE dispersy_sync_packets_total counter
dispersy_sync_packets_total 3
# HELP dispersy_tracker_communities Communities a tracker tracks (0 for other nodes).
# TYPE dispersy_tracker_communities gauge
dispersy_tracker_communities 3
# HELP dispersy_walks_total Introduction requests the walker sent.
# TYPE dispersy_walks_total counter
dispersy_walks_total 5
`, id)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"dispersy_community_messages", "dispersy_community_peers", "dispersy_received_packets_total",
		"dispersy_sync_packets_total", "dispersy_tracker_communities", "dispersy_walks_total"); err != nil {
		t.Error(err)
	}
	// One series per drop reason, so a dashboard sees zeros, not gaps.
	if n := testutil.CollectAndCount(c, "dispersy_dropped_total"); n != len(dispersy.DropReasons()) {
		t.Errorf("%d dropped series, want one per reason (%d)", n, len(dispersy.DropReasons()))
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Registering checks the descriptions against what Collect sends.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
}

// TestSnapshotError: a snapshot that fails makes the scrape fail instead of
// reporting zeros.
func TestSnapshotError(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewFromSource(func(context.Context) (dispersy.Snapshot, error) {
		return dispersy.Snapshot{}, dispersy.ErrNodeClosed
	}))
	_, err := reg.Gather()
	if !errors.Is(err, dispersy.ErrNodeClosed) && (err == nil || !strings.Contains(err.Error(), dispersy.ErrNodeClosed.Error())) {
		t.Fatalf("gather error %v, want the snapshot's", err)
	}
}

// TestMatchesEngine: the exported numbers are the engine's, for an engine
// that walked, synced and stored.
func TestMatchesEngine(t *testing.T) {
	sim, err := dispersytest.NewSim(dispersytest.DefaultSimConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.JoinAll(func() dispersy.Overlay { return dispersytest.NewDebugCommunity() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPeers(3); err != nil {
		t.Fatal(err)
	}
	for i, p := range sim.Peers {
		if err := sim.Do(p, func(e *dispersy.Engine) error {
			_, err := dispersy.Create(e.Communities()[0], dispersytest.FullSyncText, dispersytest.Text{Text: fmt.Sprint("note ", i)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.RunUntil(func() bool { return false }, time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	s, err := sim.Peers[0].Engine.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := metrics.NewFromSource(fixed(s))
	if got := testutil.ToFloat64(gaugeOf(c, "dispersy_walks_total")); got != float64(s.Stats.Walks) || got == 0 {
		t.Errorf("walks %v, engine %d", got, s.Stats.Walks)
	}
	if got := testutil.ToFloat64(gaugeOf(c, "dispersy_community_messages")); got != float64(s.Communities[0].Messages) || got < 3 {
		t.Errorf("messages %v, engine %d", got, s.Communities[0].Messages)
	}
	if got := testutil.ToFloat64(gaugeOf(c, "dispersy_messages_stored_total")); got != float64(s.Stats.Stored) {
		t.Errorf("stored %v, engine %d", got, s.Stats.Stored)
	}
	cs := s.Communities[0].Stats
	if got := testutil.ToFloat64(gaugeOf(c, "dispersy_community_messages_stored_total")); got != float64(cs.Stored) || got < 2 {
		t.Errorf("community stored %v, snapshot %d", got, cs.Stored)
	}
	if got := testutil.ToFloat64(gaugeOf(c, "dispersy_community_received_packets_total")); got != float64(cs.Received) || got == 0 {
		t.Errorf("community received %v, snapshot %d", got, cs.Received)
	}
	if n := testutil.CollectAndCount(c, "dispersy_community_dropped_total"); n != len(dispersy.DropReasons()) {
		t.Errorf("%d community dropped series, want one per reason", n)
	}
}

// gaugeOf is the collector restricted to one metric name, for ToFloat64.
func gaugeOf(c prometheus.Collector, name string) prometheus.Collector {
	return filter{c, name}
}

type filter struct {
	c    prometheus.Collector
	name string
}

func (f filter) Describe(ch chan<- *prometheus.Desc) { f.c.Describe(ch) }

func (f filter) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.c.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+f.name+`"`) {
			ch <- m
		}
	}
}
