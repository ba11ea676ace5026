// Package metrics exports a node's counters and gauges in the Prometheus
// text format: a [prometheus.Collector] that reads [dispersy.Node.Snapshot]
// each time it is collected. It is a package of its own so that the
// protocol core does not import client_golang; applications that do not
// use Prometheus read the same numbers from the snapshot itself.
//
// Node-wide counters are named dispersy_<what>_total (received and sent
// datagrams and bytes, messages created, stored, handled, delayed and
// resumed, requests, walks, walk replies, sync packets, drops by reason).
// Per-community gauges carry a community label (the community id in hex):
// messages stored, delayed messages, global time, and peers by category.
// Rates (sync and walk rates, messages per second) are Prometheus's rate()
// of the counters.
package metrics

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/walker"
)

// Source returns a snapshot of a node; [dispersy.Node.Snapshot] is one.
type Source func(context.Context) (dispersy.Snapshot, error)

// DefaultTimeout bounds one snapshot taken by Collect.
const DefaultTimeout = 5 * time.Second

// Collector is a prometheus.Collector for one node. Register it once per
// node; for several nodes in one process use [prometheus.WrapRegistererWith]
// with a distinguishing label.
type Collector struct {
	src     Source
	timeout time.Duration
}

// New returns a collector reading node's snapshot.
func New(node *dispersy.Node) *Collector { return NewFromSource(node.Snapshot) }

// NewFromSource returns a collector reading snapshots from src.
func NewFromSource(src Source) *Collector {
	return &Collector{src: src, timeout: DefaultTimeout}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("dispersy_"+name, help, labels, nil)
}

// counter is a node-wide counter read from Stats.
type counter struct {
	d   *prometheus.Desc
	get func(*dispersy.Stats) uint64
}

var nodeCounters = []counter{
	{desc("received_packets_total", "Datagrams handed to the engine."), func(s *dispersy.Stats) uint64 { return s.Received }},
	{desc("received_bytes_total", "Bytes of the datagrams handed to the engine."), func(s *dispersy.Stats) uint64 { return s.ReceivedBytes }},
	{desc("sent_packets_total", "Datagrams the engine produced."), func(s *dispersy.Stats) uint64 { return s.Sent }},
	{desc("sent_bytes_total", "Bytes of the datagrams the engine produced."), func(s *dispersy.Stats) uint64 { return s.SentBytes }},
	{desc("messages_created_total", "Messages this node created."), func(s *dispersy.Stats) uint64 { return s.Created }},
	{desc("messages_stored_total", "Messages committed to the store."), func(s *dispersy.Stats) uint64 { return s.Stored }},
	{desc("messages_handled_total", "Messages passed to handlers, built-in ones included."), func(s *dispersy.Stats) uint64 { return s.Handled }},
	{desc("messages_delayed_total", "Messages put on hold until something they need arrives."), func(s *dispersy.Stats) uint64 { return s.Delayed }},
	{desc("messages_resumed_total", "Delayed messages processed again."), func(s *dispersy.Stats) uint64 { return s.Resumed }},
	{desc("requests_total", "Missing-* requests sent, retries included."), func(s *dispersy.Stats) uint64 { return s.Requests }},
	{desc("walks_total", "Introduction requests the walker sent."), func(s *dispersy.Stats) uint64 { return s.Walks }},
	{desc("walk_replies_total", "Introduction requests that were answered."), func(s *dispersy.Stats) uint64 { return s.WalkReplies }},
	{desc("sync_packets_total", "Packets sent in answer to bloom-filter syncs."), func(s *dispersy.Stats) uint64 { return s.SyncPackets }},
	{desc("punctures_suppressed_total", "Puncture requests for a target punctured within 10 s (duplicates, not drops)."), func(s *dispersy.Stats) uint64 { return s.PuncturesSuppressed }},
}

var (
	droppedDesc     = desc("dropped_total", "Packets and messages dropped, by reason.", "reason")
	communitiesDesc = desc("communities", "Communities the node has joined.")
	failedDesc      = desc("failed", "1 when an error stopped the engine, else 0.")
	trackedDesc     = desc("tracker_communities", "Communities a tracker tracks (0 for other nodes).")
	messagesDesc    = desc("community_messages", "Live messages of the community's synced types in the store (the store size).", "community", "overlay")
	delayedDesc     = desc("community_delayed", "Messages of the community waiting for something they need.", "community")
	globalTimeDesc  = desc("community_global_time", "The community's Lamport global time.", "community")
	cDroppedDesc    = desc("community_dropped_total", "The community's packets and messages dropped, by reason.", "community", "reason")
	peersDesc       = desc("community_peers", "Peers the community's walker knows, by category (walk and stumble are verified).", "community", "category")
)

// communityGauge is a per-community gauge read from a CommunitySnapshot.
type communityGauge struct {
	d   *prometheus.Desc
	get func(*dispersy.CommunitySnapshot) float64
}

// communityGauges are the per-community gauges besides messages (which
// also carries the overlay label) and peers (labelled by category).
var communityGauges = []communityGauge{
	{delayedDesc, func(c *dispersy.CommunitySnapshot) float64 { return float64(c.Delayed) }},
	{globalTimeDesc, func(c *dispersy.CommunitySnapshot) float64 { return float64(c.GlobalTime) }},
}

// communityCounters are the per-community counters of
// CommunitySnapshot.Stats, exported as dispersy_community_<name>_total
// {community}; the per-community drops by reason are
// dispersy_community_dropped_total{community,reason}.
var communityCounters = []communityGauge{
	{desc("community_received_packets_total", "Packets addressed to the community that reached it.", "community"), func(c *dispersy.CommunitySnapshot) float64 { return float64(c.Stats.Received) }},
	{desc("community_messages_stored_total", "The community's messages committed to the store.", "community"), func(c *dispersy.CommunitySnapshot) float64 { return float64(c.Stats.Stored) }},
	{desc("community_messages_delayed_total", "The community's messages put on hold.", "community"), func(c *dispersy.CommunitySnapshot) float64 { return float64(c.Stats.Delayed) }},
}

// categories are the walker categories exported as peer gauges (none is
// never in a snapshot).
var categories = []walker.Category{walker.CategoryWalk, walker.CategoryStumble, walker.CategoryIntro, walker.CategoryDiscovered}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range nodeCounters {
		ch <- m.d
	}
	for _, m := range communityGauges {
		ch <- m.d
	}
	for _, m := range communityCounters {
		ch <- m.d
	}
	for _, d := range []*prometheus.Desc{droppedDesc, cDroppedDesc, communitiesDesc, failedDesc, trackedDesc, messagesDesc, peersDesc} {
		ch <- d
	}
}

// Collect takes a snapshot of the node and sends its metrics. When the
// snapshot fails (the node stopped, the store failed) it sends one
// invalid metric carrying the error, so the scrape reports it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.src(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(failedDesc, err)
		return
	}
	Write(s, ch)
}

// Write sends the metrics of snapshot s: what Collect sends.
func Write(s dispersy.Snapshot, ch chan<- prometheus.Metric) {
	for _, m := range nodeCounters {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.get(&s.Stats)))
	}
	for _, r := range dispersy.DropReasons() {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.Stats.DroppedBy(r)), r.String())
	}
	ch <- prometheus.MustNewConstMetric(communitiesDesc, prometheus.GaugeValue, float64(len(s.Communities)))
	failed := 0.0
	if s.Failed != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.GaugeValue, failed)
	ch <- prometheus.MustNewConstMetric(trackedDesc, prometheus.GaugeValue, float64(s.TrackerCommunities))
	for i := range s.Communities {
		cs := &s.Communities[i]
		id := CommunityLabel(cs)
		ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(cs.Messages), id, cs.Overlay)
		for _, m := range communityGauges {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, m.get(cs), id)
		}
		for _, m := range communityCounters {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, m.get(cs), id)
		}
		for _, r := range dispersy.DropReasons() {
			ch <- prometheus.MustNewConstMetric(cDroppedDesc, prometheus.CounterValue, float64(cs.Stats.Dropped[r]), id, r.String())
		}
		for _, cat := range categories {
			ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(cs.PeersByCategory[cat]), id, cat.String())
		}
	}
}

// CommunityLabel is the value of the community label: the community id
// in hex.
func CommunityLabel(cs *dispersy.CommunitySnapshot) string { return hex.EncodeToString(cs.ID[:]) }
