package bloom_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/dispersy-go/dispersy/dispersy/bloom"
)

// hash16 is a packet hash as dispersy.PacketHash computes it.
func hash16(pkt string) [bloom.KeySize]byte {
	sum := sha256.Sum256([]byte(pkt))
	return [bloom.KeySize]byte(sum[:bloom.KeySize])
}

// The requester puts the hashes of the packets it has into a filter; the
// responder rebuilds the filter from the wire fields and sends back the
// packets that are not in it.
func Example() {
	const m = 1024 // bits: a 128-byte bit array
	n := bloom.Capacity(m, 0.01)
	req, err := bloom.New(m, bloom.OptimalK(m, n), 0x5eed)
	if err != nil {
		panic(err)
	}
	for _, pkt := range []string{"msg-1", "msg-2", "msg-3"} {
		req.Add(hash16(pkt))
	}
	fmt.Printf("capacity %d at 1%%, k = %d, %d bytes on the wire\n", n, req.K(), len(req.Bytes()))

	// The responder only sees (bits, k, salt).
	got, err := bloom.FromBytes(req.Bytes(), req.K(), req.Salt())
	if err != nil {
		panic(err) // a real responder drops the request
	}
	for _, pkt := range []string{"msg-1", "msg-2", "msg-3", "msg-4"} {
		if !got.Has(hash16(pkt)) {
			fmt.Println("send", pkt)
		}
	}
	// Output:
	// capacity 106 at 1%, k = 7, 128 bytes on the wire
	// send msg-4
}
