package walker

import (
	"math/rand/v2"
	"time"
)

// Walk-selection thresholds (Dispersy dispersy_get_walk_candidate). With
// all four categories present the shares are 47.5 % walk, 23.75 % stumble,
// 23.75 % intro and 5 % discovered.
const (
	walkShare       = 0.475 // r1 ≤ walkShare: walk first
	walkOrMixed     = 0.95  // r1 ≤ walkOrMixed: stumble or intro first
	stumbleOrIntro  = 0.5   // r2 < stumbleOrIntro: stumble before intro
	introduceWalked = 0.5   // r ≤ introduceWalked: walked candidates first
)

// NextWalk picks the candidate to send the next introduction request to
// (§5.2, Dispersy dispersy_get_walk_candidate), or nil when no candidate is
// eligible. For each category it takes the eligible candidate that has
// waited longest (oldest last walk for walk candidates, oldest category
// timestamp for the others; ties go to the earlier inserted), then draws
// r1 and r2 from rng:
//
//	r1 ≤ 0.475: walk,             else stumble/intro, else discovered
//	r1 ≤ 0.95:  stumble/intro,    else walk,          else discovered
//	otherwise:  discovered, or draw again when there is none
//
// where "stumble/intro" means stumble then intro when r2 < 0.5, and intro
// then stumble otherwise. NextWalk does not change the table: call
// [Table.Cleanup] before it and [Table.Walk] for the candidate you walk to.
func (t *Table) NextWalk(now time.Time, rng *rand.Rand) *Candidate {
	var best [4]*Candidate // walk, stumble, intro, discovered
	for _, c := range t.cands {
		cat := c.Category(now)
		if cat == CategoryNone || !c.walkDelayOver(now) {
			continue
		}
		i := int(cat) - int(CategoryWalk)
		if b := best[i]; b == nil || c.stamp(cat).Before(b.stamp(cat)) {
			best[i] = c
		}
	}
	walk, stumble, intro, discovered := best[0], best[1], best[2], best[3]
	if walk == nil && stumble == nil && intro == nil && discovered == nil {
		return nil
	}
	for {
		r1, r2 := rng.Float64(), rng.Float64()
		mixed := first(stumble, intro)
		if r2 >= stumbleOrIntro {
			mixed = first(intro, stumble)
		}
		var c *Candidate
		switch {
		case r1 <= walkShare:
			c = first(walk, mixed, discovered)
		case r1 <= walkOrMixed:
			c = first(mixed, walk, discovered)
		default:
			c = discovered
		}
		if c != nil {
			return c
		}
	}
}

func first(cs ...*Candidate) *Candidate {
	for _, c := range cs {
		if c != nil {
			return c
		}
	}
	return nil
}

// Introduce picks the candidate to introduce to requester in an
// introduction response (§5.3, Dispersy dispersy_get_introduce_candidate),
// or nil when there is none. It goes round-robin through the walk
// candidates and, separately, the stumble candidates, both in insertion
// order and only over candidates whose LAN and WAN are known; a draw from
// rng decides which of the two goes first (50/50), the other is the
// fallback. Excluded:
//   - the requester itself (same candidate, same address or same member);
//   - a tunnelled candidate when the requester is not tunnelled;
//   - a symmetric-NAT candidate when the requester is behind a symmetric
//     NAT with another WAN IP (the two cannot puncture each other).
//
// requester may be nil (nothing excluded). The round-robin positions are
// table state, so repeated calls spread introductions over all candidates.
func (t *Table) Introduce(now time.Time, requester *Candidate, rng *rand.Rand) *Candidate {
	order := [2]Category{CategoryWalk, CategoryStumble}
	if rng.Float64() > introduceWalked {
		order = [2]Category{CategoryStumble, CategoryWalk}
	}
	for _, cat := range order {
		if c := t.nextIntroduce(now, cat, requester); c != nil {
			return c
		}
	}
	return nil
}

// nextIntroduce advances the round-robin cursor of cat past the next
// candidate of that category and returns the first one that requester may
// be introduced to, inspecting every candidate at most once.
func (t *Table) nextIntroduce(now time.Time, cat Category, requester *Candidate) *Candidate {
	cursor := &t.rr[0]
	if cat == CategoryStumble {
		cursor = &t.rr[1]
	}
	n := len(t.cands)
	// cands is sorted by seq: start after the last candidate inspected.
	start := 0
	for start < n && t.cands[start].seq <= *cursor {
		start++
	}
	for i := range n {
		c := t.cands[(start+i)%n]
		if c.Category(now) != cat || !c.strict() {
			continue
		}
		*cursor = c.seq
		if !excluded(c, requester) {
			return c
		}
	}
	return nil
}

func excluded(c, req *Candidate) bool {
	if req == nil {
		return false
	}
	if c == req || c.sock == req.sock || c.sameMember(req) {
		return true
	}
	// A non-tunnelled peer cannot receive from a tunnelled one.
	if !req.tunnel && c.tunnel {
		return true
	}
	// Two peers behind different symmetric NATs cannot puncture.
	return req.conn == ConnectionSymmetricNAT && c.conn == ConnectionSymmetricNAT &&
		req.wan.Addr() != c.wan.Addr()
}

// RandomVerified returns up to n distinct verified candidates at now,
// chosen uniformly with rng, skipping those for which exclude returns true
// (exclude may be nil). It picks the targets of a message with a
// community destination (§1.4: N random members).
func (t *Table) RandomVerified(now time.Time, n int, exclude func(*Candidate) bool, rng *rand.Rand) []*Candidate {
	if n <= 0 {
		return nil
	}
	var pool []*Candidate
	for _, c := range t.cands {
		if c.Verified(now) && (exclude == nil || !exclude(c)) {
			pool = append(pool, c)
		}
	}
	n = min(n, len(pool))
	// Partial Fisher–Yates: the first n entries become a uniform sample.
	for i := range n {
		j := i + rng.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	return pool[:n:n]
}
