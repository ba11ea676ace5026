package dht

import (
	"io"
	"time"
)

// ServerConfig tunes a [Server]. Zero fields take the defaults.
type ServerConfig struct {
	Table  TableConfig
	Values ValuesConfig
	// QueryBurst and QueryWindow bound each peer's requests (default 10
	// per 5 s); MaxPeers bounds the peers tracked (default 10,000).
	QueryBurst  int
	QueryWindow time.Duration
	MaxPeers    int
	// TokenRotation is the store tokens' rotation interval (default 5 min).
	TokenRotation time.Duration
}

// ServerStats counts what a [Server] answered.
type ServerStats struct {
	// Requests counts the requests handled, by type (index: MsgType).
	Requests [TypeError + 1]uint64
	// Verdicts counts the answers by reason: store verdicts, BadToken,
	// RateLimited (index: Reason).
	Verdicts [NumReasons]uint64
}

// NumReasons is the number of [Reasons].
const NumReasons = int(RateLimited) + 1

// Server answers the DHT's requests: the serving half of a node, pure.
// The transport hands it each request with the sender's verified node id
// and source address; Handle returns the answer to send back and, when the
// sender's arrival fills a bucket, a contact to ping ([Table.Seen]). It
// owns the node's routing table and held values, issues and checks store
// tokens and rate-limits each peer. A Server belongs to one goroutine.
type Server struct {
	Table  *Table
	Values *Values

	tokens  *Tokens
	limiter *RateLimiter
	stats   ServerStats
}

// NewServer returns a server for the node self at now; rand seeds the
// token secrets. It fails only when rand does.
func NewServer(self ID, cfg ServerConfig, rand io.Reader, now time.Time) (*Server, error) {
	tok, err := NewTokens(rand, cfg.TokenRotation, now)
	if err != nil {
		return nil, err
	}
	return &Server{
		Table:   NewTable(self, cfg.Table, now),
		Values:  NewValues(cfg.Values),
		tokens:  tok,
		limiter: NewRateLimiter(cfg.QueryBurst, cfg.QueryWindow, cfg.MaxPeers),
	}, nil
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats { return s.stats }

// Handle answers the request req of the node from (its id verified by the
// transport, its address the packet's source) at now. A request over the
// sender's rate gets Error{RateLimited} and teaches the table nothing; any
// other request counts as a sighting of from. A message that is not a
// request gets no answer (nil).
func (s *Server) Handle(from Contact, req Message, now time.Time) (answer Message, ping Contact, needPing bool) {
	if req == nil {
		return nil, Contact{}, false
	}
	t := req.Type()
	if t != TypeFindNode && t != TypeFindValue && t != TypeStore {
		return nil, Contact{}, false
	}
	s.stats.Requests[t]++
	if !s.limiter.Allow(from.ID, now) {
		s.stats.Verdicts[RateLimited]++
		return Error{Code: RateLimited}, Contact{}, false
	}
	_, ping, needPing = s.Table.Seen(from, now)
	// A failure of the random source keeps the current secret in use.
	_ = s.tokens.Rotate(now)
	nodes := func(target ID) Message {
		return Nodes{Token: s.tokens.Issue(from.ID, from.Addr), Contacts: s.Table.Closest(target, min(s.Table.Config().K, MaxContacts))}
	}
	switch m := req.(type) {
	case FindNode:
		return nodes(m.Target), ping, needPing
	case FindValue:
		if rec := s.Values.Get(m.Key, now); rec != nil {
			return Value{Record: rec}, ping, needPing
		}
		return nodes(m.Key), ping, needPing
	case Store:
		code := BadToken
		if s.tokens.Check(from.ID, from.Addr, m.Token) {
			code = s.Values.Put(from.ID, m.Key, m.Record, now)
		}
		s.stats.Verdicts[code]++
		return StoreResult{Key: m.Key, Code: code}, ping, needPing
	}
	return nil, ping, needPing
}
