package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/keys"
)

// victimSocket is a UDP socket that only counts what reaches it.
type victimSocket struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	bytes int
	pkts  int
	from  map[netip.AddrPort]int
	done  chan struct{}
}

func listenVictim(t *testing.T, addr string) *victimSocket {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	v := &victimSocket{conn: c, from: map[netip.AddrPort]int{}, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			v.mu.Lock()
			v.bytes += n
			v.pkts++
			v.from[from]++
			v.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-v.done })
	return v
}

func (v *victimSocket) counts() (bytes, pkts, senders int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.bytes, v.pkts, len(v.from)
}

// introRequestNaming crafts a signed introduction request (with advice and
// an empty sync range) to dest in the debug community, in which the sender
// claims victim as its LAN and WAN address.
func introRequestNaming(t *testing.T, conv *conversion.Conversion, signer *keys.PrivateKey, dest, victim netip.AddrPort, id uint16) []byte {
	t.Helper()
	pl, err := dispersy.IntroductionRequestType.EncodePayload(dispersy.IntroductionRequest{
		Destination: dest, SourceLAN: victim, SourceWAN: victim, Advice: true, Identifier: id,
		Sync: &dispersy.SyncRequest{Low: 1, Modulo: 1, K: 1, Salt: 7, Bloom: make([]byte, 8)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &conversion.Frame{
		CommunityVersion: conv.Version(), Community: cid, Format: conv.Format(dispersy.IDIntroductionRequest),
		GlobalTime: 1, Payload: pl, Authors: []conversion.Author{conversion.AuthorOf(signer.Public())},
	}
	body, err := conversion.AppendBody(nil, conv, cid, f)
	if err != nil {
		t.Fatal(err)
	}
	return signer.AppendSign(slices.Clone(body), body)
}

// Issue #12 over real UDP: an attacker on 127.0.0.1 floods honest nodes
// with introduction requests that name a victim socket (127.0.0.2) as its
// own LAN and WAN address. The victim never sends a byte (B = 0), so it may
// receive at most one probe (a puncture or a bloom-less introduction
// request, 320 bytes at most) per honest node per 10 s.
func TestAmplificationReflectionUDP(t *testing.T) {
	victim := listenVictim(t, "127.0.0.2:0")
	victimAddr := victim.conn.LocalAddr().(*net.UDPAddr).AddrPort()

	dir := t.TempDir()
	const nodes = 4
	peers := make([]*peer, nodes)
	keyOf := func(i int) *keys.PrivateKey { return keys.DeriveKey(keys.Ed25519, fmt.Appendf(nil, "amp peer %d", i)) }
	peers[0] = startPeer(t, "peer0", keyOf(0), filepath.Join(dir, "p0.db"), "127.0.0.1:0", nil, 0)
	tracker := []netip.AddrPort{peers[0].ep.LocalAddr()}
	for i := 1; i < nodes; i++ {
		peers[i] = startPeer(t, fmt.Sprintf("peer%d", i), keyOf(i), filepath.Join(dir, fmt.Sprintf("p%d.db", i)), "127.0.0.1:0", tracker, uint64(i))
	}
	for _, p := range peers {
		p.create(t, p.name, 10)
	}
	waitAll(t, peers, 10*nodes)

	// The attacker's codec: the debug community's conversion.
	cfg := dispersy.DefaultConfig()
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:1")
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	eng, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte("attacker")), dispersytest.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	c, err := eng.Join(dispersytest.NewDebugCommunity())
	if err != nil {
		t.Fatal(err)
	}
	conv := c.Codec().Newest()
	attacker, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	go func() { // drain the answers to the attacker
		buf := make([]byte, 65536)
		for {
			if _, _, err := attacker.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()

	signer := keys.DeriveKey(keys.Ed25519, []byte("reflector"))
	const attack = 4 * time.Second // 20 walker steps at the tests' speed
	start := time.Now()
	id, sent, sentBytes := uint16(1), 0, 0
	for time.Since(start) < attack {
		for _, p := range peers {
			pkt := introRequestNaming(t, conv, signer, p.ep.LocalAddr(), victimAddr, id)
			id++
			if _, err := attacker.WriteToUDPAddrPort(pkt, p.ep.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			sent++
			sentBytes += len(pkt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the last walker steps land
	elapsed := time.Since(start)

	bytes, pkts, senders := victim.counts()
	windows := int(elapsed/(10*time.Second)) + 1
	bound := nodes * windows * 320
	t.Logf("attacker sent %d requests (%d bytes) in %v naming %v; the silent victim received %d bytes in %d datagrams from %d nodes (bound %d)",
		sent, sentBytes, elapsed.Round(time.Millisecond), victimAddr, bytes, pkts, senders, bound)
	if bytes > bound {
		t.Errorf("the victim, which sent nothing, received %d bytes: over one probe per node per 10 s (%d)", bytes, bound)
	}
	var refused uint64
	for _, p := range peers {
		s, err := p.node.Stats(ctxFor(t))
		if err != nil {
			t.Fatal(err)
		}
		refused += s.DroppedBy(dispersy.DropAmplification) + s.DroppedBy(dispersy.DropRateLimited)
	}
	t.Logf("the nodes refused %d datagrams (amplification, rate-limited)", refused)
}
