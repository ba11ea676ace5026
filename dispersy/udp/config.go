package udp

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy"
)

// MaxUDPPayload is the largest MaxDatagram a Config accepts: the largest UDP
// payload that fits one IPv4 packet (65535 - 20 IPv4 header - 8 UDP header).
const MaxUDPPayload = 65507

// maxSocketBuffer bounds ReadBuffer and WriteBuffer (1 GiB); anything larger
// is a typo, and the kernel would cap it anyway.
const maxSocketBuffer = 1 << 30

// Config tunes an Endpoint. Start from DefaultConfig; the zero Config is
// invalid (its MaxDatagram is 0).
type Config struct {
	// MaxDatagram is the largest UDP payload, in bytes, that Send accepts
	// and Receive returns. Larger datagrams are refused by Send and dropped
	// by Receive, and counted; they are never truncated.
	// Default dispersy.DefaultMaxDatagram (1,232: the IPv6 minimum MTU minus
	// headers). Allowed: 1 to MaxUDPPayload (65,507). On a known LAN,
	// 1,472 (IPv4) or 1,452 (IPv6) fills a 1,500-byte Ethernet frame.
	MaxDatagram int

	// ReadBuffer and WriteBuffer are the socket buffer sizes to ask the
	// kernel for (SO_RCVBUF, SO_SNDBUF), in bytes. Default 4 MiB each
	// (quic-go asks for 7 MiB; 2-8 MiB absorbs bursts at the rates measured
	// in go-ecosystem-and-performance.md §8). 0 keeps the operating system's
	// default. Linux caps the request at net.core.rmem_max / wmem_max
	// (often 208 KiB): Stats reports the effective sizes, and the endpoint
	// logs a warning when the kernel granted less than asked.
	ReadBuffer, WriteBuffer int

	// Logger receives the endpoint's logs: lifecycle at Info, capped socket
	// buffers at Warn, per-datagram drops at Debug. The zero value discards
	// everything.
	Logger zerolog.Logger
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{
		MaxDatagram: dispersy.DefaultMaxDatagram, // IPv6 minimum MTU 1280 - 48; DNS Flag Day 2020
		ReadBuffer:  4 << 20,                     // go-ecosystem-and-performance.md §8.2
		WriteBuffer: 4 << 20,
	}
}

// Validate reports every problem with c, not only the first. It never
// modifies c.
func (c Config) Validate() error {
	var errs []error
	if c.MaxDatagram < 1 || c.MaxDatagram > MaxUDPPayload {
		errs = append(errs, fmt.Errorf("MaxDatagram (%d) must be between 1 and %d; start from DefaultConfig (%d)",
			c.MaxDatagram, MaxUDPPayload, dispersy.DefaultMaxDatagram))
	}
	if c.ReadBuffer < 0 || c.ReadBuffer > maxSocketBuffer {
		errs = append(errs, fmt.Errorf("ReadBuffer (%d) must be between 0 (OS default) and %d bytes", c.ReadBuffer, maxSocketBuffer))
	}
	if c.WriteBuffer < 0 || c.WriteBuffer > maxSocketBuffer {
		errs = append(errs, fmt.Errorf("WriteBuffer (%d) must be between 0 (OS default) and %d bytes", c.WriteBuffer, maxSocketBuffer))
	}
	return errors.Join(errs...)
}
