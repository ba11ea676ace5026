package reconcile

import (
	"errors"
	"slices"
)

// Node capacities of the index's B+ tree. A leaf holds up to maxLeaf items
// (24 bytes each) in one array; an inner node holds up to maxInner children
// with, for each, its smallest key and its Sum, so that rank, item-at-rank
// and prefix sums read one contiguous array per level.
const (
	maxLeaf  = 128
	maxInner = 64
	minLeaf  = maxLeaf / 4
	minInner = maxInner / 4
)

// ErrUnsorted is returned by [Build] for input that is not strictly
// ascending or holds an item with time 2^64−1.
var ErrUnsorted = errors.New("reconcile: build input not strictly ascending or time out of range")

// Index is an in-memory ordered set of items with the Sum of every subtree,
// so that the fingerprint of any key range costs O(log n). It is a B+ tree:
// leaves hold sorted items, inner nodes the smallest key, the Sum and the
// pointer of each child. The zero value is an empty index. An Index is not
// safe for concurrent use.
//
// Memory at 1M items, measured: 25.2 bytes per item after [Build] (full
// leaves of 24-byte items, plus node headers and inner nodes), 37 after
// inserts in random order (leaves half to full). Budget 40 MB per million.
type Index struct {
	root *node
	sum  Sum
}

type node struct {
	items []Item  // leaf: the items, ascending
	kids  []*node // inner: the children
	mins  []Item  // inner: mins[j] separates kids[j-1] (below) from kids[j] (at or above); mins[0] is not used
	sums  []Sum   // inner: the Sum of each child
}

func (n *node) leaf() bool { return n.kids == nil }

func (n *node) size() int {
	if n.leaf() {
		return len(n.items)
	}
	return len(n.kids)
}

// sumOf recomputes the Sum of n from its items or children.
func (n *node) sumOf() Sum {
	var s Sum
	if n.leaf() {
		for i := range n.items {
			s.Add(&n.items[i].ID)
		}
		return s
	}
	for _, t := range n.sums {
		s = s.Plus(t)
	}
	return s
}

func (n *node) first() Item {
	for !n.leaf() {
		n = n.kids[0]
	}
	return n.items[0]
}

// route returns the child of inner node n whose key range holds k.
func (n *node) route(k Item) int {
	lo, hi := 1, len(n.mins)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.mins[m].Compare(k) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// search returns the position of the first item >= k in leaf n.
func (n *node) search(k Item) int {
	lo, hi := 0, len(n.items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.items[m].Compare(k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Build returns an index of items, which must be strictly ascending with
// times <= [MaxTime]. It runs in O(n) and fills the leaves; items is not
// retained.
func Build(items []Item) (*Index, error) {
	for i := range items {
		if items[i].Time > MaxTime || (i > 0 && items[i-1].Compare(items[i]) >= 0) {
			return nil, ErrUnsorted
		}
	}
	ix := &Index{}
	if len(items) == 0 {
		return ix, nil
	}
	backing := slices.Clone(items)
	nl := (len(items) + maxLeaf - 1) / maxLeaf
	level := make([]*node, nl)
	for k := range nl {
		a, b := k*len(items)/nl, (k+1)*len(items)/nl
		level[k] = &node{items: backing[a:b:b]}
	}
	for len(level) > 1 {
		np := (len(level) + maxInner - 1) / maxInner
		up := make([]*node, np)
		for k := range np {
			a, b := k*len(level)/np, (k+1)*len(level)/np
			p := &node{kids: slices.Clone(level[a:b]), mins: make([]Item, b-a), sums: make([]Sum, b-a)}
			for j, c := range p.kids {
				p.mins[j] = c.first()
				p.sums[j] = c.sumOf()
			}
			up[k] = p
		}
		level = up
	}
	ix.root = level[0]
	ix.sum = ix.root.sumOf()
	return ix, nil
}

// Len returns the number of items.
func (ix *Index) Len() int { return int(ix.sum.Count) }

// Total returns the Sum of all items.
func (ix *Index) Total() Sum { return ix.sum }

// Has reports whether it is in the index.
func (ix *Index) Has(it Item) bool {
	n := ix.root
	if n == nil {
		return false
	}
	for !n.leaf() {
		n = n.kids[n.route(it)]
	}
	p := n.search(it)
	return p < len(n.items) && n.items[p] == it
}

// Insert adds it and reports whether it was added: false if it was present
// already or its time is above [MaxTime]. O(log n).
func (ix *Index) Insert(it Item) bool {
	if it.Time > MaxTime {
		return false
	}
	if ix.root == nil {
		ix.root = &node{items: make([]Item, 0, maxLeaf)}
	}
	right, ok := ix.insert(ix.root, it)
	if !ok {
		return false
	}
	if right != nil {
		l := ix.root
		ix.root = &node{
			kids: append(make([]*node, 0, maxInner), l, right),
			mins: append(make([]Item, 0, maxInner), l.first(), right.first()),
			sums: append(make([]Sum, 0, maxInner), l.sumOf(), right.sumOf()),
		}
	}
	ix.sum.Add(&it.ID)
	return true
}

// insert adds it under n; it returns the new right sibling when n split.
func (ix *Index) insert(n *node, it Item) (*node, bool) {
	if n.leaf() {
		p := n.search(it)
		if p < len(n.items) && n.items[p] == it {
			return nil, false
		}
		if len(n.items) < maxLeaf {
			if len(n.items) == cap(n.items) {
				n.items = append(make([]Item, 0, maxLeaf), n.items...)
			}
			n.items = slices.Insert(n.items, p, it)
			return nil, true
		}
		all := slices.Insert(slices.Clone(n.items), p, it)
		cut := splitPoint(p, len(all))
		n.items = append(make([]Item, 0, maxLeaf), all[:cut]...)
		return &node{items: append(make([]Item, 0, maxLeaf), all[cut:]...)}, true
	}
	i := n.route(it)
	right, ok := ix.insert(n.kids[i], it)
	if !ok {
		return nil, false
	}
	if right == nil {
		n.sums[i].Add(&it.ID)
		return nil, true
	}
	n.sums[i] = n.kids[i].sumOf()
	if len(n.kids) < maxInner {
		if len(n.kids) == cap(n.kids) {
			n.growInner()
		}
		n.kids = slices.Insert(n.kids, i+1, right)
		n.mins = slices.Insert(n.mins, i+1, right.first())
		n.sums = slices.Insert(n.sums, i+1, right.sumOf())
		return nil, true
	}
	kids := slices.Insert(slices.Clone(n.kids), i+1, right)
	mins := slices.Insert(slices.Clone(n.mins), i+1, right.first())
	sums := slices.Insert(slices.Clone(n.sums), i+1, right.sumOf())
	cut := splitPoint(i+1, len(kids))
	r := &node{}
	n.kids, r.kids = cloneCap(kids[:cut], maxInner), cloneCap(kids[cut:], maxInner)
	n.mins, r.mins = cloneCap(mins[:cut], maxInner), cloneCap(mins[cut:], maxInner)
	n.sums, r.sums = cloneCap(sums[:cut], maxInner), cloneCap(sums[cut:], maxInner)
	return r, true
}

// splitPoint is where an overfull node of n entries splits after inserting at
// position p: in half, except that an insertion at the end leaves the left
// node full, so that appends in key order (new messages) fill nodes.
func splitPoint(p, n int) int {
	if p == n-1 {
		return n - 1
	}
	return n / 2
}

func cloneCap[T any](s []T, c int) []T { return append(make([]T, 0, max(c, len(s))), s...) }

func (n *node) growInner() {
	n.kids = cloneCap(n.kids, maxInner)
	n.mins = cloneCap(n.mins, maxInner)
	n.sums = cloneCap(n.sums, maxInner)
}

// Delete removes it and reports whether it was present. O(log n).
func (ix *Index) Delete(it Item) bool {
	if ix.root == nil || !ix.delete(ix.root, it) {
		return false
	}
	ix.sum.Sub(&it.ID)
	if !ix.root.leaf() && len(ix.root.kids) == 1 {
		ix.root = ix.root.kids[0]
	}
	return true
}

func (ix *Index) delete(n *node, it Item) bool {
	if n.leaf() {
		p := n.search(it)
		if p == len(n.items) || n.items[p] != it {
			return false
		}
		n.items = slices.Delete(n.items, p, p+1)
		return true
	}
	i := n.route(it)
	c := n.kids[i]
	if !ix.delete(c, it) {
		return false
	}
	n.sums[i].Sub(&it.ID)
	minSize := minInner
	if c.leaf() {
		minSize = minLeaf
	}
	if c.size() < minSize && len(n.kids) > 1 {
		n.rebalance(i)
	}
	return true
}

// rebalance merges the underfull child i with a sibling, or evens them out
// when the two do not fit in one node.
func (n *node) rebalance(i int) {
	l := i
	if i == len(n.kids)-1 {
		l = i - 1
	}
	a, b := n.kids[l], n.kids[l+1]
	limit := maxInner
	if a.leaf() {
		limit = maxLeaf
	}
	if !b.leaf() {
		b.mins[0] = n.mins[l+1] // a valid separator between a's keys and b's
	}
	if a.size()+b.size() <= limit {
		if a.leaf() {
			a.items = append(cloneCap(a.items, maxLeaf), b.items...)
		} else {
			a.kids = append(cloneCap(a.kids, maxInner), b.kids...)
			a.mins = append(cloneCap(a.mins, maxInner), b.mins...)
			a.sums = append(cloneCap(a.sums, maxInner), b.sums...)
		}
		n.sums[l] = n.sums[l].Plus(n.sums[l+1])
		n.kids = slices.Delete(n.kids, l+1, l+2)
		n.mins = slices.Delete(n.mins, l+1, l+2)
		n.sums = slices.Delete(n.sums, l+1, l+2)
		return
	}
	h := (a.size() + b.size()) / 2
	if a.leaf() {
		all := append(slices.Clone(a.items), b.items...)
		a.items, b.items = cloneCap(all[:h], maxLeaf), cloneCap(all[h:], maxLeaf)
	} else {
		kids := append(slices.Clone(a.kids), b.kids...)
		mins := append(slices.Clone(a.mins), b.mins...)
		sums := append(slices.Clone(a.sums), b.sums...)
		a.kids, b.kids = cloneCap(kids[:h], maxInner), cloneCap(kids[h:], maxInner)
		a.mins, b.mins = cloneCap(mins[:h], maxInner), cloneCap(mins[h:], maxInner)
		a.sums, b.sums = cloneCap(sums[:h], maxInner), cloneCap(sums[h:], maxInner)
	}
	n.sums[l], n.sums[l+1] = a.sumOf(), b.sumOf()
	if a.leaf() {
		n.mins[l+1] = b.first()
	} else {
		n.mins[l+1] = b.mins[0]
	}
}

// Rank returns the number of items below k. O(log n).
func (ix *Index) Rank(k Bound) int {
	n := ix.root
	if n == nil {
		return 0
	}
	r := 0
	for !n.leaf() {
		i := n.route(k)
		for j := range i {
			r += int(n.sums[j].Count)
		}
		n = n.kids[i]
	}
	return r + n.search(k)
}

// At returns the item of rank r (0 <= r < Len). O(log n).
func (ix *Index) At(r int) Item {
	n := ix.root
	for !n.leaf() {
		j := 0
		for ; r >= int(n.sums[j].Count); j++ {
			r -= int(n.sums[j].Count)
		}
		n = n.kids[j]
	}
	return n.items[r]
}

// PrefixSum returns the Sum of the r smallest items. O(log n).
func (ix *Index) PrefixSum(r int) Sum {
	var s Sum
	n := ix.root
	if n == nil || r <= 0 {
		return s
	}
	if r >= ix.Len() {
		return ix.sum
	}
	for !n.leaf() {
		j := 0
		for ; r >= int(n.sums[j].Count); j++ {
			r -= int(n.sums[j].Count)
			s = s.Plus(n.sums[j])
		}
		n = n.kids[j]
	}
	for i := range r {
		s.Add(&n.items[i].ID)
	}
	return s
}

// SumBelow returns the Sum of the items below k; its Count is k's rank.
// One descent, O(log n).
func (ix *Index) SumBelow(k Bound) Sum {
	var s Sum
	n := ix.root
	if n == nil {
		return s
	}
	for !n.leaf() {
		i := n.route(k)
		for j := range i {
			s = s.Plus(n.sums[j])
		}
		n = n.kids[i]
	}
	for p := range n.search(k) {
		s.Add(&n.items[p].ID)
	}
	return s
}

// SumRanks returns the Sum of the items of ranks [i, j).
func (ix *Index) SumRanks(i, j int) Sum { return ix.PrefixSum(j).Minus(ix.PrefixSum(i)) }

// Fingerprint returns the fingerprint of the items in [lo, hi). O(log n).
func (ix *Index) Fingerprint(lo, hi Bound) Fingerprint {
	a, b := ix.SumBelow(lo), ix.SumBelow(hi)
	if b.Count < a.Count {
		return Sum{}.Fingerprint()
	}
	return b.Minus(a).Fingerprint()
}

// AppendRanks appends the items of ranks [i, j) to dst in order. O(log n + j − i).
func (ix *Index) AppendRanks(dst []Item, i, j int) []Item {
	if ix.root == nil || i >= j {
		return dst
	}
	return appendRanks(dst, ix.root, i, j)
}

func appendRanks(dst []Item, n *node, i, j int) []Item {
	if n.leaf() {
		return append(dst, n.items[max(i, 0):min(j, len(n.items))]...)
	}
	for k, c := range n.kids {
		cnt := int(n.sums[k].Count)
		if i < cnt && j > 0 {
			dst = appendRanks(dst, c, i, j)
		}
		i -= cnt
		j -= cnt
		if j <= 0 {
			break
		}
	}
	return dst
}
