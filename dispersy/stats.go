package dispersy

import (
	"fmt"
	"strings"

	"github.com/dispersy-go/dispersy/conversion"
)

// DropReason is why the engine dropped an incoming packet or message. The
// set is closed, so statistics stay low-cardinality; free text from a
// user's Check goes to logs only.
//
// WARNING: append only; names appear in statistics and docs.
type DropReason uint8

const (
	dropNone DropReason = iota
	// Decoding (one per conversion.Reason).
	DropTooShort
	DropTrailing
	DropBadVersion
	DropUnknownCommunity
	DropUnknownConversion
	DropUnknownMessage
	DropBadKey
	DropBadSignature
	DropBadField
	DropBadPayload
	DropNonCanonical
	// DropDuplicate: the same packet is already stored or in the batch.
	DropDuplicate
	// DropConflict: another packet with the same (member, global time) is
	// stored ("possibly malicious" in Dispersy).
	DropConflict
	// DropFutureGlobalTime: the global time is above the acceptable range.
	DropFutureGlobalTime
	// DropPruned: the message is inactive or pruned under GlobalTimePruning.
	DropPruned
	// DropSequence: a sequence number conflict, an old sequence number, or
	// a rising sequence with a falling global time.
	DropSequence
	// DropHistory: older than the oldest kept message of a last-sync type.
	DropHistory
	// DropNotPermitted: the timeline does not allow the message, even after
	// the proof was requested.
	DropNotPermitted
	// DropRejected: the application's Check dropped it.
	DropRejected
	// DropMalicious: the author signed two different messages with the same
	// sequence number or global time; its messages are no longer accepted.
	DropMalicious
	// DropFromSelf: a packet signed by our own member reached us.
	DropFromSelf
	// DropUnexpected: a response or puncture without a matching request.
	DropUnexpected
	// DropInvalidAddress: an address field is unusable.
	DropInvalidAddress
	// DropDelayOverflow: delayed messages exceeded their memory bound; the
	// oldest was dropped.
	DropDelayOverflow
	// DropDelayExpired: a delayed message waited longer than allowed.
	DropDelayExpired
	// DropDestroyed: the community was destroyed (hard-killed).
	DropDestroyed
	// DropUnknownMember: the message names a member we cannot resolve.
	DropUnknownMember
	// DropRateLimited: the source sent more than its share.
	DropRateLimited
	// DropQueueFull: the node's incoming queue was full.
	DropQueueFull
	// DropOversize: a datagram exceeded the size limit.
	DropOversize
	// DropInvalidRequest: a request asked for something nonsensical.
	DropInvalidRequest
	// DropAmplification: an answer to an address that has not proved it
	// receives our packets would exceed the anti-amplification limit (an
	// outgoing drop).
	DropAmplification
	// DropStoreConflict: a write planned for a remote message named a
	// message deleted earlier in the same commit; the write was left out
	// (remote input never stops the engine).
	DropStoreConflict
	// DropOverload: the node shed the datagram unverified because it could
	// not keep up (docs/security.md, "Overload and shedding").
	DropOverload
	dropReasonCount
)

var dropNames = [...]string{
	dropNone:              "none",
	DropTooShort:          "too-short",
	DropTrailing:          "trailing-bytes",
	DropBadVersion:        "bad-version",
	DropUnknownCommunity:  "unknown-community",
	DropUnknownConversion: "unknown-conversion",
	DropUnknownMessage:    "unknown-message",
	DropBadKey:            "bad-key",
	DropBadSignature:      "bad-signature",
	DropBadField:          "bad-field",
	DropBadPayload:        "bad-payload",
	DropNonCanonical:      "non-canonical",
	DropDuplicate:         "duplicate",
	DropConflict:          "conflict",
	DropFutureGlobalTime:  "future-global-time",
	DropPruned:            "pruned",
	DropSequence:          "sequence",
	DropHistory:           "history",
	DropNotPermitted:      "not-permitted",
	DropRejected:          "rejected",
	DropMalicious:         "malicious",
	DropFromSelf:          "from-self",
	DropUnexpected:        "unexpected",
	DropInvalidAddress:    "invalid-address",
	DropDelayOverflow:     "delay-overflow",
	DropDelayExpired:      "delay-expired",
	DropDestroyed:         "destroyed",
	DropUnknownMember:     "unknown-member",
	DropRateLimited:       "rate-limited",
	DropQueueFull:         "queue-full",
	DropOversize:          "oversize",
	DropInvalidRequest:    "invalid-request",
	DropAmplification:     "amplification",
	DropStoreConflict:     "store-conflict",
	DropOverload:          "overload",
}

func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return fmt.Sprintf("drop(%d)", uint8(r))
}

// DropReasons lists every reason, in value order.
func DropReasons() []DropReason {
	out := make([]DropReason, 0, dropReasonCount-1)
	for r := dropNone + 1; r < dropReasonCount; r++ {
		out = append(out, r)
	}
	return out
}

// dropForDecode maps a decode reason onto a drop reason.
func dropForDecode(r conversion.Reason) DropReason {
	switch r {
	case conversion.TooShort:
		return DropTooShort
	case conversion.Trailing:
		return DropTrailing
	case conversion.BadVersion:
		return DropBadVersion
	case conversion.UnknownCommunity:
		return DropUnknownCommunity
	case conversion.UnknownConversion:
		return DropUnknownConversion
	case conversion.UnknownMessage:
		return DropUnknownMessage
	case conversion.BadKey:
		return DropBadKey
	case conversion.BadSignature:
		return DropBadSignature
	case conversion.BadField:
		return DropBadField
	case conversion.NonCanonical:
		return DropNonCanonical
	}
	return DropBadPayload
}

// Stats is a snapshot of an engine's counters. All counts are cumulative
// since the engine started.
type Stats struct {
	// Received counts datagrams handed to the engine, and their bytes.
	Received, ReceivedBytes uint64
	// Sent counts datagrams the engine produced, and their bytes.
	Sent, SentBytes uint64
	// Dropped counts dropped packets and messages by reason.
	Dropped [dropReasonCount]uint64
	// Stored counts messages committed to the store.
	Stored uint64
	// Created counts messages this node created.
	Created uint64
	// Handled counts messages passed to handlers (built-in ones included).
	Handled uint64
	// Delayed counts messages put on hold until something they need arrives.
	Delayed uint64
	// Resumed counts delayed messages processed again.
	Resumed uint64
	// Requests counts missing-* requests sent (retries included).
	Requests uint64
	// Walks counts introduction requests sent by the walker; WalkReplies
	// those answered.
	Walks, WalkReplies uint64
	// SyncPackets counts packets sent in answer to bloom-filter syncs.
	SyncPackets uint64
	// TaskFailures counts community tasks (Community.Every, After) that
	// returned an error or panicked.
	TaskFailures uint64
	// PuncturesSuppressed counts puncture requests for a target punctured
	// within 10 s: duplicates, not bad input, so not drops.
	PuncturesSuppressed uint64
}

// DroppedTotal returns the number of drops for every reason.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// DroppedBy returns the count for one reason.
func (s Stats) DroppedBy(r DropReason) uint64 {
	if int(r) >= len(s.Dropped) {
		return 0
	}
	return s.Dropped[r]
}

// String renders the non-zero counters one per line, in a fixed order, for
// logs and golden files.
func (s Stats) String() string {
	var b strings.Builder
	line := func(name string, v uint64) {
		if v != 0 {
			fmt.Fprintf(&b, "%s: %d\n", name, v)
		}
	}
	line("received", s.Received)
	line("received-bytes", s.ReceivedBytes)
	line("sent", s.Sent)
	line("sent-bytes", s.SentBytes)
	line("created", s.Created)
	line("stored", s.Stored)
	line("handled", s.Handled)
	line("delayed", s.Delayed)
	line("resumed", s.Resumed)
	line("requests", s.Requests)
	line("walks", s.Walks)
	line("walk-replies", s.WalkReplies)
	line("sync-packets", s.SyncPackets)
	line("task-failures", s.TaskFailures)
	line("punctures-suppressed", s.PuncturesSuppressed)
	for _, r := range DropReasons() {
		line("dropped "+r.String(), s.Dropped[r])
	}
	return b.String()
}
