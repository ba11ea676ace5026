package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/udp"
)

// TestLossyEndpoint: the decorator counts every datagram, drops about the
// asked share, and passes the rest to the real socket.
func TestLossyEndpoint(t *testing.T) {
	for _, loss := range []float64{0, 0.25, 0.9} {
		from, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		to, err := udp.Listen("127.0.0.1:0", udp.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		l := newLossy(from, loss, rand.New(rand.NewPCG(1, 2)))
		const n = 1000
		pkt := []byte("datagram")
		for range n {
			if err := l.Send(to.LocalAddr(), pkt); err != nil {
				t.Fatal(err)
			}
		}
		dropped := l.dropped.Load()
		if l.datagrams.Load() != n || l.bytes.Load() != n*uint64(len(pkt)) {
			t.Errorf("loss %v: counted %d datagrams, %d bytes; want %d, %d", loss, l.datagrams.Load(), l.bytes.Load(), n, n*len(pkt))
		}
		if sent := from.Stats().DatagramsSent; sent+dropped != n {
			t.Errorf("loss %v: %d dropped + %d sent by the socket != %d", loss, dropped, sent, n)
		}
		// A binomial(1000, p) count lies within 5 standard deviations of
		// its mean; the seed makes the draw fixed anyway.
		mean, slack := loss*n, 5*math.Sqrt(n*loss*(1-loss))
		if got := float64(dropped); got < mean-slack || got > mean+slack {
			t.Errorf("loss %v: dropped %d of %d", loss, dropped, n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		to.Close()
	}
}
