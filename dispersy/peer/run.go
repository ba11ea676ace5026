package peer

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/keys/keyfile"
)

// Options configure Run: the few settings IPv8's ConfigBuilder takes for
// a first overlay.
type Options struct {
	// Listen is the UDP address, "host:port" (port 0: any free one).
	Listen string
	// Bootstrap lists "host:port" addresses of peers or trackers to walk
	// to first (NodeConfig.BootstrapHosts).
	Bootstrap []string
	// KeyFile is the member key's PEM file, created (0600) if missing
	// (keyfile.LoadOrCreate); empty means a fresh key each run.
	KeyFile string
	// Node is the node configuration; nil means dispersy.DefaultNodeConfig.
	Node *dispersy.NodeConfig
	// Store is the store; nil means memory (nothing survives a restart).
	Store dispersy.Store
}

// Run starts a node on a UDP socket, joins overlay, calls started on the
// engine's goroutine (register tasks there, like IPv8's on_start), and
// runs until ctx is done (then it returns nil) or the node fails.
func Run(ctx context.Context, o Options, overlay dispersy.Overlay, started func(c *dispersy.Community) error) error {
	var key *keys.PrivateKey
	var err error
	if o.KeyFile != "" {
		key, _, err = keyfile.LoadOrCreate(o.KeyFile, keys.Ed25519)
	} else {
		key, err = keys.Generate(keys.Ed25519, crand.Reader)
	}
	if err != nil {
		return err
	}
	ep, err := udp.Listen(o.Listen, udp.DefaultConfig())
	if err != nil {
		return err
	}
	cfg := dispersy.DefaultNodeConfig()
	if o.Node != nil {
		cfg = *o.Node
	}
	cfg.BootstrapHosts = append(cfg.BootstrapHosts, o.Bootstrap...)
	store := o.Store
	if store == nil {
		store = dispersytest.NewMemStore()
	}
	node, err := dispersy.NewNode(cfg, key, store, ep)
	if err != nil {
		ep.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	err = node.Do(ctx, func(e *dispersy.Engine) error {
		c, err := e.Join(overlay)
		if err == nil && started != nil {
			err = started(c)
		}
		return err
	})
	if err != nil {
		cancel()
		<-done
		node.Close()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("peer: starting the overlay: %w", err)
	}
	err = <-done
	node.Close()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
