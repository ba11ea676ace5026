package udp_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/udp"
)

var (
	lo4 = netip.MustParseAddrPort("127.0.0.1:0")
	lo6 = netip.MustParseAddrPort("[::1]:0")
)

// need6 skips the test when the machine has no IPv6 loopback.
func need6(t testing.TB) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	c.Close()
}

func listen(t testing.TB, addr netip.AddrPort, cfg udp.Config) *udp.Endpoint {
	t.Helper()
	if cfg.MaxDatagram == 0 {
		cfg = udp.DefaultConfig()
	}
	e, err := udp.ListenAddrPort(addr, cfg)
	if err != nil {
		t.Fatalf("ListenAddrPort(%v): %v", addr, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// recv receives one datagram into a fresh buffer of size bufLen.
func recv(t testing.TB, e *udp.Endpoint, bufLen int) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, bufLen)
	n, from, err := e.Receive(buf)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return buf[:n], from
}

func send(t testing.TB, e *udp.Endpoint, to netip.AddrPort, pkt []byte) {
	t.Helper()
	if err := e.Send(to, pkt); err != nil {
		t.Fatalf("Send(%v, %d bytes): %v", to, len(pkt), err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr netip.AddrPort
	}{
		{"ipv4", lo4},
		{"ipv6", lo6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr.Addr().Is6() {
				need6(t)
			}
			a := listen(t, tc.addr, udp.Config{})
			b := listen(t, tc.addr, udp.Config{})
			if got := a.LocalAddr(); got.Addr() != tc.addr.Addr() || got.Port() == 0 {
				t.Fatalf("LocalAddr = %v, want %v with a picked port", got, tc.addr.Addr())
			}

			ping := []byte("introduction-request")
			send(t, a, b.LocalAddr(), ping)
			got, from := recv(t, b, dispersy.DefaultMaxDatagram+1)
			if !bytes.Equal(got, ping) || from != a.LocalAddr() {
				t.Fatalf("b received %q from %v, want %q from %v", got, from, ping, a.LocalAddr())
			}

			// A full-size datagram, back the other way, into a buffer of
			// exactly MaxDatagram bytes (the copying path).
			pong := bytes.Repeat([]byte{0xd5}, dispersy.DefaultMaxDatagram)
			send(t, b, from, pong)
			got, from = recv(t, a, dispersy.DefaultMaxDatagram)
			if !bytes.Equal(got, pong) || from != b.LocalAddr() {
				t.Fatalf("a received %d bytes from %v, want %d from %v", len(got), from, len(pong), b.LocalAddr())
			}
		})
	}
}

func TestUnmap4in6(t *testing.T) {
	// A 4-in-6 listen address binds a plain IPv4 socket.
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.1]:0")
	a := listen(t, mapped, udp.Config{})
	if got := a.LocalAddr().Addr(); !got.Is4() || got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("LocalAddr = %v, want plain 127.0.0.1", a.LocalAddr())
	}

	// A 4-in-6 destination reaches the IPv4 peer.
	b := listen(t, lo4, udp.Config{})
	to := netip.AddrPortFrom(netip.AddrFrom16(b.LocalAddr().Addr().As16()), b.LocalAddr().Port())
	if !to.Addr().Is4In6() {
		t.Fatalf("test setup: %v is not 4-in-6", to)
	}
	send(t, a, to, []byte("mapped"))
	if got, from := recv(t, b, 2048); string(got) != "mapped" || from != a.LocalAddr() {
		t.Fatalf("received %q from %v, want %q from %v", got, from, "mapped", a.LocalAddr())
	}

	// A dual-stack socket sees IPv4 peers as plain IPv4 addresses, and can
	// answer them at that plain address. (It binds [::], but all traffic
	// here stays on 127.0.0.1.)
	need6(t)
	d, err := udp.Listen("[::]:0", udp.DefaultConfig())
	if err != nil {
		t.Skipf("no dual-stack socket on this machine: %v", err)
	}
	defer d.Close()
	send(t, b, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), d.LocalAddr().Port()), []byte("from v4"))
	got, from := recv(t, d, 2048)
	if string(got) != "from v4" || from != b.LocalAddr() || !from.Addr().Is4() {
		t.Fatalf("dual stack received %q from %v, want %q from plain %v", got, from, "from v4", b.LocalAddr())
	}
	send(t, d, from, []byte("reply"))
	if got, from := recv(t, b, 2048); string(got) != "reply" || from.Port() != d.LocalAddr().Port() || !from.Addr().Is4() {
		t.Fatalf("IPv4 peer received %q from %v, want %q from 127.0.0.1:%d", got, from, "reply", d.LocalAddr().Port())
	}
}

func TestSendOversizeRefused(t *testing.T) {
	cfg := udp.DefaultConfig()
	cfg.MaxDatagram = 100
	a := listen(t, lo4, cfg)
	b := listen(t, lo4, udp.Config{})

	err := a.Send(b.LocalAddr(), make([]byte, 101))
	if !errors.Is(err, dispersy.ErrOversize) {
		t.Fatalf("Send(101 bytes) with MaxDatagram 100: err = %v, want ErrOversize", err)
	}
	if !strings.Contains(err.Error(), "MaxDatagram") {
		t.Errorf("error %q does not say which setting to change", err)
	}
	send(t, a, b.LocalAddr(), make([]byte, 100)) // exactly the limit is fine

	// Nothing of the refused datagram reached b: the first datagram it gets
	// is the 100-byte one.
	if got, _ := recv(t, b, 2048); len(got) != 100 {
		t.Fatalf("b received %d bytes first, want the 100-byte datagram", len(got))
	}
	st := a.Stats()
	if st.OversizeSent != 1 || st.DatagramsSent != 1 || st.BytesSent != 100 || st.SendErrors != 0 {
		t.Fatalf("Stats = %+v, want OversizeSent 1, DatagramsSent 1, BytesSent 100, SendErrors 0", st)
	}
}

func TestReceiveDropsOversize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		bufLen int
		sizes  []int // sent in order by a raw socket
		want   []int // sizes Receive returns, in order
	}{
		{"larger than MaxDatagram", 1232, 2048, []int{2000, 1233, 10}, []int{10}},
		{"exactly MaxDatagram, direct", 1232, 1233, []int{1232, 1233, 7}, []int{1232, 7}},
		{"exactly MaxDatagram, copied", 1232, 1232, []int{1232, 1233, 7}, []int{1232, 7}},
		{"larger than buf", 1232, 50, []int{51, 100, 50, 1}, []int{50, 1}},
		{"empty datagram", 1232, 10, []int{0, 11, 3}, []int{0, 3}},
		{"max UDP payload", udp.MaxUDPPayload, udp.MaxUDPPayload + 1, []int{udp.MaxUDPPayload, 5}, []int{udp.MaxUDPPayload, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := udp.DefaultConfig()
			cfg.MaxDatagram = tc.max
			e := listen(t, lo4, cfg)
			raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			for i, n := range tc.sizes {
				pkt := bytes.Repeat([]byte{byte(i + 1)}, n)
				if _, err := raw.WriteToUDPAddrPort(pkt, e.LocalAddr()); err != nil {
					t.Fatalf("raw send %d bytes: %v", n, err)
				}
			}
			buf := make([]byte, tc.bufLen)
			for _, w := range tc.want {
				n, from, err := e.Receive(buf)
				if err != nil {
					t.Fatalf("Receive: %v", err)
				}
				if n != w || from != unmapped(raw) {
					t.Fatalf("Receive = %d bytes from %v, want %d from %v", n, from, w, unmapped(raw))
				}
				// The content is the datagram with that size, intact.
				i := indexOf(tc.sizes, w)
				if !bytes.Equal(buf[:n], bytes.Repeat([]byte{byte(i + 1)}, w)) {
					t.Fatalf("datagram of %d bytes has wrong content", w)
				}
			}
			st := e.Stats()
			if want := uint64(len(tc.sizes) - len(tc.want)); st.OversizeReceived != want {
				t.Errorf("OversizeReceived = %d, want %d", st.OversizeReceived, want)
			}
			if st.DatagramsReceived != uint64(len(tc.want)) {
				t.Errorf("DatagramsReceived = %d, want %d", st.DatagramsReceived, len(tc.want))
			}
		})
	}
}

func unmapped(c *net.UDPConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestReceiveEmptyBuffer(t *testing.T) {
	e := listen(t, lo4, udp.Config{})
	if _, _, err := e.Receive(nil); err == nil {
		t.Fatal("Receive(nil) succeeded, want an error")
	}
}

func TestCloseUnblocksReceive(t *testing.T) {
	e := listen(t, lo4, udp.Config{})
	done := make(chan error, 1)
	go func() {
		_, _, err := e.Receive(make([]byte, 2048))
		done <- err
	}()
	// Whether or not the goroutine is already blocked in Receive, Close
	// must make it return ErrEndpointClosed.
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, dispersy.ErrEndpointClosed) {
		t.Fatalf("pending Receive returned %v, want ErrEndpointClosed", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v, want nil (idempotent)", err)
	}
	if _, _, err := e.Receive(make([]byte, 2048)); !errors.Is(err, dispersy.ErrEndpointClosed) {
		t.Fatalf("Receive after Close: %v, want ErrEndpointClosed", err)
	}
	if err := e.Send(e.LocalAddr(), []byte("x")); !errors.Is(err, dispersy.ErrEndpointClosed) {
		t.Fatalf("Send after Close: %v, want ErrEndpointClosed", err)
	}
	if st := e.Stats(); st.SendErrors != 0 {
		t.Errorf("SendErrors = %d after Send on a closed endpoint, want 0 (closing is not a send error)", st.SendErrors)
	}
}

func TestPortInUse(t *testing.T) {
	a := listen(t, lo4, udp.Config{})
	addr := a.LocalAddr().String()
	_, err := udp.Listen(addr, udp.DefaultConfig())
	if err == nil {
		t.Fatalf("second Listen(%s) succeeded, want address in use", addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, "already in use") {
		t.Errorf("error %q should name %s and say it is already in use", msg, addr)
	}
}

func TestListenErrors(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		cfg        udp.Config
		want       []string
	}{
		{"bad address", "no-port-here", udp.DefaultConfig(), []string{`"no-port-here"`, "host:port"}},
		{"zero config", "127.0.0.1:0", udp.Config{}, []string{"MaxDatagram (0)", "DefaultConfig"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := udp.Listen(tc.addr, tc.cfg)
			if err == nil {
				e.Close()
				t.Fatalf("Listen(%q) succeeded, want an error", tc.addr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestListenString(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		e, err := udp.Listen(addr, udp.DefaultConfig())
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		if la := e.LocalAddr(); !la.Addr().IsLoopback() || la.Port() == 0 || la.Addr().Is4In6() {
			t.Errorf("Listen(%q).LocalAddr() = %v, want a loopback address with a picked port", addr, la)
		}
		e.Close()
	}
}

func TestConfigValidate(t *testing.T) {
	if err := udp.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*udp.Config)
		want []string // every substring must appear: all problems are reported
	}{
		{"max 0", func(c *udp.Config) { c.MaxDatagram = 0 }, []string{"MaxDatagram (0)"}},
		{"max too big", func(c *udp.Config) { c.MaxDatagram = udp.MaxUDPPayload + 1 }, []string{"MaxDatagram (65508)"}},
		{"all wrong", func(c *udp.Config) { c.MaxDatagram, c.ReadBuffer, c.WriteBuffer = -1, -1, 2<<30 },
			[]string{"MaxDatagram (-1)", "ReadBuffer (-1)", "WriteBuffer (2147483648)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := udp.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, missing %q", err, w)
				}
			}
		})
	}
	c := udp.DefaultConfig()
	c.MaxDatagram, c.ReadBuffer, c.WriteBuffer = udp.MaxUDPPayload, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("limits at their bounds: Validate() = %v, want nil", err)
	}
}

func TestStats(t *testing.T) {
	a := listen(t, lo4, udp.Config{})
	b := listen(t, lo4, udp.Config{})
	sizes := []int{1, 100, 1232}
	for _, n := range sizes {
		send(t, a, b.LocalAddr(), make([]byte, n))
	}
	for range sizes {
		recv(t, b, 2048)
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.DatagramsSent != 3 || sa.BytesSent != 1333 || sa.DatagramsReceived != 0 {
		t.Errorf("sender Stats = %+v, want 3 datagrams / 1333 bytes sent", sa)
	}
	if sb.DatagramsReceived != 3 || sb.BytesReceived != 1333 || sb.DatagramsSent != 0 {
		t.Errorf("receiver Stats = %+v, want 3 datagrams / 1333 bytes received", sb)
	}
	if runtime.GOOS == "linux" {
		// The kernel grants at least its minimum and reports what it granted.
		if sa.ReadBuffer <= 0 || sa.WriteBuffer <= 0 {
			t.Errorf("effective buffers = %d/%d, want the kernel's values", sa.ReadBuffer, sa.WriteBuffer)
		}
		if !sa.DontFragment {
			t.Error("DontFragment = false on Linux, want true")
		}
	}
}

// TestBufferCapLogged checks that the operator hears about a socket buffer
// the kernel capped: asking for 1 GiB always exceeds net.core.rmem_max.
func TestBufferCapLogged(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("socket buffer read-back is checked on Linux")
	}
	var logs bytes.Buffer
	cfg := udp.DefaultConfig()
	cfg.ReadBuffer = 1 << 30
	cfg.Logger = zerolog.New(&logs)
	e := listen(t, lo4, cfg)
	if got := e.Stats().ReadBuffer; got <= 0 || got >= 1<<30 {
		t.Fatalf("effective ReadBuffer = %d, want the kernel's capped value", got)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "rmem_max") {
		t.Fatalf("no warning about the capped read buffer in logs:\n%s", logs.String())
	}
}

// TestMessageTooLong sends a datagram that fits MaxDatagram but not the
// IPv6 loopback MTU (65,536 - 48 header bytes). With DF set the kernel
// refuses it with EMSGSIZE (without DF it would fragment it locally); the
// refusal must be an error that is counted, never silent.
func TestMessageTooLong(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("DF is set on Linux only")
	}
	need6(t)
	cfg := udp.DefaultConfig()
	cfg.MaxDatagram = udp.MaxUDPPayload
	a := listen(t, lo6, cfg)
	b := listen(t, lo6, cfg)
	err := a.Send(b.LocalAddr(), make([]byte, udp.MaxUDPPayload))
	if !errors.Is(err, syscall.EMSGSIZE) || !errors.Is(err, dispersy.ErrOversize) {
		t.Fatalf("Send(%d bytes over IPv6 loopback) = %v, want EMSGSIZE wrapped with ErrOversize", udp.MaxUDPPayload, err)
	}
	if !strings.Contains(err.Error(), "MaxDatagram") {
		t.Errorf("error %q does not say what to change", err)
	}
	st := a.Stats()
	if st.MessageTooLong != 1 || st.SendErrors != 1 || st.DatagramsSent != 0 {
		t.Fatalf("Stats = %+v, want MessageTooLong 1, SendErrors 1, DatagramsSent 0", st)
	}
	// The largest datagram that fits the loopback MTU still goes through.
	send(t, a, b.LocalAddr(), make([]byte, 65536-48))
	if got, _ := recv(t, b, udp.MaxUDPPayload+1); len(got) != 65536-48 {
		t.Fatalf("received %d bytes, want %d", len(got), 65536-48)
	}
}

func TestSendErrorCounted(t *testing.T) {
	a := listen(t, lo4, udp.Config{})
	// An IPv4 socket cannot send to an IPv6 address.
	err := a.Send(netip.MustParseAddrPort("[2001:db8::1]:7759"), []byte("x"))
	if err == nil {
		t.Fatal("Send to an IPv6 address from an IPv4 socket succeeded")
	}
	if errors.Is(err, dispersy.ErrOversize) || errors.Is(err, dispersy.ErrEndpointClosed) {
		t.Fatalf("Send error %v has the wrong class", err)
	}
	if st := a.Stats(); st.SendErrors != 1 || st.DatagramsSent != 0 {
		t.Fatalf("Stats = %+v, want SendErrors 1", st)
	}
}

// BenchmarkOneWay measures loopback one-way throughput with 1,232-byte
// datagrams: one goroutine sends b.N datagrams as fast as it can, another
// receives. Reports received datagrams per second and the loss (receiver
// overrun; UDP does not retransmit).
func BenchmarkOneWay(b *testing.B) {
	for _, fam := range []struct {
		name string
		addr netip.AddrPort
	}{{"ipv4", lo4}, {"ipv6", lo6}} {
		b.Run(fam.name, func(b *testing.B) {
			if fam.addr.Addr().Is6() {
				need6(b)
			}
			tx := listen(b, fam.addr, udp.Config{})
			rx := listen(b, fam.addr, udp.Config{})
			pkt := make([]byte, dispersy.DefaultMaxDatagram)
			const data, end = 0, 1

			got := make(chan int, 1)
			go func() {
				buf := make([]byte, dispersy.DefaultMaxDatagram+1)
				n := 0
				for {
					m, _, err := rx.Receive(buf)
					if err != nil || m == 0 || buf[0] == end {
						break
					}
					n++
				}
				got <- n
			}()

			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			b.ResetTimer()
			pkt[0] = data
			for range b.N {
				if err := tx.Send(rx.LocalAddr(), pkt); err != nil {
					b.Fatal(err)
				}
			}
			// End markers until the receiver has seen one (they may be
			// lost like any datagram).
			marker := []byte{end}
			var received int
		wait:
			for {
				if err := tx.Send(rx.LocalAddr(), marker); err != nil {
					b.Fatal(err)
				}
				select {
				case received = <-got:
					break wait
				default:
					runtime.Gosched()
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(received)/sec, "recv-pkts/s")
			b.ReportMetric(100*float64(b.N-received)/float64(b.N), "loss-%")
		})
	}
}

func Example() {
	cfg := udp.DefaultConfig() // 1,232-byte datagrams, 4 MiB socket buffers
	alice, err := udp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()
	bob, err := udp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bob.Close()

	if err := alice.Send(bob.LocalAddr(), []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, bob.MaxDatagram()+1) // one spare byte: no copy inside Receive
	n, from, err := bob.Receive(buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("bob received %q from alice: %v\n", buf[:n], from == alice.LocalAddr())

	err = alice.Send(bob.LocalAddr(), make([]byte, 2000))
	fmt.Println("oversize refused:", errors.Is(err, dispersy.ErrOversize), alice.Stats().OversizeSent)
	// Output:
	// bob received "hello" from alice: true
	// oversize refused: true 1
}
