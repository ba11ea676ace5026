package dht

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/bits"

	"github.com/dispersy-go/dispersy/keys"
)

// IDSize is the length of node ids and value keys: 160 bits, the size of a
// member id ([keys.IDSize]).
const IDSize = keys.IDSize

// IDBits is the number of bits of the key space.
const IDBits = IDSize * 8

// ID is a point of the 160-bit key space: a node id or a value key.
type ID [IDSize]byte

// NodeID returns the node id of a member: its member id, the first 20 bytes
// of SHA-256 of its binary public key. The id is bound to the key, so a node
// cannot choose its position without grinding keys.
func NodeID(m keys.MemberID) ID { return ID(m) }

// NodeIDOf returns the node id of a public key.
func NodeIDOf(k *keys.PublicKey) ID { return ID(k.ID()) }

// hash160 is the key-space hash: the first 20 bytes of SHA-256 of the parts,
// concatenated.
func hash160(parts ...[]byte) ID {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var id ID
	copy(id[:], h.Sum(nil))
	return id
}

// OwnedKey returns the key of an owner-signed named value:
// H(H(owner public key) ‖ H(name)), with H the first 20 bytes of SHA-256 and
// the owner key in its binary form (tag byte included). H(owner key) is the
// owner's member id.
func OwnedKey(owner *keys.PublicKey, name []byte) ID {
	mid := owner.ID()
	hn := hash160(name)
	return hash160(mid[:], hn[:])
}

// ContentKey returns the key of a content-addressed value: H(value).
func ContentKey(value []byte) ID { return hash160(value) }

// String returns the id in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Xor returns the XOR distance between a and b, itself a point of the key
// space; distances compare with [ID.Cmp].
func (a ID) Xor(b ID) ID {
	var d ID
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Cmp compares a and b as big-endian unsigned integers.
func (a ID) Cmp(b ID) int { return bytes.Compare(a[:], b[:]) }

// Closer reports whether a is strictly closer to target than b.
func Closer(target, a, b ID) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// CmpDistance compares the distances of a and b to target: -1 if a is
// closer, +1 if b is, 0 if a == b.
func CmpDistance(target, a, b ID) int {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CommonPrefixLen returns the number of leading bits a and b share: IDBits
// when they are equal.
func CommonPrefixLen(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return IDBits
}

// Bit returns bit i of id (0 is the most significant bit).
func (a ID) Bit(i int) int { return int(a[i/8]>>(7-uint(i%8))) & 1 }

// RandomInBucket returns a random id that shares exactly prefix leading
// bits with self (prefix < IDBits): a target for a refresh lookup of the
// bucket at that depth. The randomness is read from r; on a read error the
// random bits are zero.
func RandomInBucket(self ID, prefix int, r io.Reader) ID {
	var id ID
	_, _ = io.ReadFull(r, id[:])
	for i := range prefix {
		setBit(&id, i, self.Bit(i))
	}
	if prefix < IDBits {
		setBit(&id, prefix, 1-self.Bit(prefix))
	}
	return id
}

func setBit(id *ID, i, v int) {
	m := byte(1) << (7 - uint(i%8))
	if v == 1 {
		id[i/8] |= m
	} else {
		id[i/8] &^= m
	}
}
