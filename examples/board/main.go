// Command board runs one peer of a bulletin board community: a real
// deployment of dispersy-go, one process per member, walked through in
// docs/usage.md ("A real deployment") and run by TestBoardDeployment.
//
// Every member may post (a public, full-sync type: every peer keeps every
// post). Pinning a notice needs a permission (a linear, last-sync type:
// every peer keeps the newest pin of each member). The admin process holds
// the community's master key, creates the community and grants the pin
// permission. Each process keeps its messages in a SQLite file and rebuilds
// its state from it when it starts again.
//
// Commands, one per line on standard input:
//
//	post TEXT    post a message
//	pin TEXT     pin a notice (needs the pin permission)
//	grant MID    give member MID (hex) the pin permission (the admin)
//	state        print the posts and pins counted so far
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/database"
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/debughttp"
	"github.com/dispersy-go/dispersy/dispersy/udp"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/keys/keyfile"
	"github.com/dispersy-go/dispersy/policy"
)

// Text is the payload of both types: one UTF-8 text, as a string16. Its
// length is bounded by the datagram (dispersy.Create: ErrTooLarge).
type Text struct{ Text string }

// AppendBinary implements encoding.BinaryAppender.
func (t Text) AppendBinary(b []byte) ([]byte, error) {
	w := conversion.NewWriter(b)
	w.String16(t.Text)
	return w.Finish()
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; it refuses
// invalid UTF-8 and trailing bytes.
func (t *Text) UnmarshalBinary(b []byte) error {
	r := conversion.NewReader(b)
	t.Text = r.String16()
	return r.Finish()
}

// The board's message types. Their ids are on the wire: append only.
var (
	// PostType: anyone may post; every peer keeps every post.
	PostType = dispersy.DefineMessage[Text](dispersy.MessageSpec{
		ID: 1, Name: "post",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.PublicResolution{},
		Distribution:   policy.FullSyncDistribution{Direction: policy.Ascending, Priority: policy.DefaultPriority},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
	// PinType: only members holding the permit permission may pin, and
	// every peer keeps only the newest pin of each member.
	PinType = dispersy.DefineMessage[Text](dispersy.MessageSpec{
		ID: 2, Name: "pin",
		Authentication: policy.MemberAuthentication{},
		Resolution:     policy.LinearResolution{},
		Distribution:   policy.LastSyncDistribution{Direction: policy.Ascending, Priority: 192, HistorySize: 1},
		Destination:    policy.CommunityDestination{NodeCount: 10},
	})
)

// Board is the overlay. Its fields are used on the engine's goroutine only.
type Board struct {
	master *keys.PublicKey
	posts  int                                       // posts handled
	pins   map[keys.MemberID]*dispersy.Message[Text] // the current pin of each member
}

// Define implements dispersy.Overlay.
func (b *Board) Define(d *dispersy.Definition) {
	d.Master, d.Version, d.Name = b.master, 1, "board"
	dispersy.Register(d, PostType, dispersy.Handlers[Text]{
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Text]) {
			for _, m := range batch {
				b.posts++
				fmt.Printf("%spost by %s: %s\n", replayed(ctx), m.Author(), m.Payload.Text)
			}
		},
	})
	dispersy.Register(d, PinType, dispersy.Handlers[Text]{
		Handle: func(ctx *dispersy.Context, batch []*dispersy.Message[Text]) {
			for _, m := range batch {
				if cur := b.pins[m.Author()]; cur == nil || cur.GlobalTime < m.GlobalTime {
					b.pins[m.Author()] = m
				}
				fmt.Printf("%spin by %s: %s\n", replayed(ctx), m.Author(), m.Payload.Text)
			}
		},
		// A newer pin of the same member pushed this one out of the store.
		Removed: func(_ *dispersy.Context, batch []*dispersy.Message[Text], why dispersy.RemoveReason) {
			for _, m := range batch {
				if cur := b.pins[m.Author()]; cur != nil && cur.GlobalTime == m.GlobalTime {
					delete(b.pins, m.Author())
				}
				fmt.Printf("pin removed (%v) by %s: %s\n", why, m.Author(), m.Payload.Text)
			}
		},
	})
}

func replayed(ctx *dispersy.Context) string {
	if ctx.Replaying() {
		return "replayed "
	}
	return ""
}

// The flags.
var (
	dbPath     = flag.String("db", "board.db", "SQLite store file")
	keyPath    = flag.String("key", "member.pem", "this member's key file, created if missing")
	listen     = flag.String("listen", "127.0.0.1:0", "UDP address to listen on")
	bootstrap  = flag.String("bootstrap", "", "the tracker, host:port")
	httpAddr   = flag.String("http", "", "serve the status page on this TCP address")
	admin      = flag.Bool("admin", false, "this process holds the master key: create the community")
	masterPath = flag.String("master", "master.pub", "the master key: its private key file with -admin, else its public PEM")
)

func main() {
	flag.Parse()
	// SIGINT and SIGTERM stop the node cleanly; SIGKILL is a crash the
	// store survives.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal("board: ", err)
	}
}

func run(ctx context.Context) error {
	me, _, err := keyfile.LoadOrCreate(*keyPath, keys.Ed25519)
	if err != nil {
		return err
	}
	masterText, err := os.ReadFile(*masterPath)
	if err != nil {
		return err
	}
	var masterKey *keys.PrivateKey // the admin's only
	board := &Board{pins: map[keys.MemberID]*dispersy.Message[Text]{}}
	if *admin {
		if masterKey, err = keys.ParsePrivateKeyText(string(masterText)); err != nil {
			return fmt.Errorf("-admin needs the master's private key in -master: %w", err)
		}
		board.master = masterKey.Public()
	} else if board.master, err = keys.ParsePublicKeyText(string(masterText)); err != nil {
		return fmt.Errorf("-master: %w", err)
	}

	st, err := database.Open(*dbPath, database.Options{})
	if err != nil {
		return err
	}
	defer st.Close() // after the node
	ep, err := udp.Listen(*listen, udp.DefaultConfig())
	if err != nil {
		return err
	}
	cfg := dispersy.DefaultNodeConfig()
	if *bootstrap != "" {
		cfg.BootstrapHosts = []string{*bootstrap}
	}
	cfg.Engine.Events = &dispersy.Events{PeerAdded: func(_ keys.CommunityID, p dispersy.Peer) {
		fmt.Println("peer", p.Addr)
	}}
	node, err := dispersy.NewNode(cfg, me, st, ep)
	if err != nil {
		ep.Close()
		return err
	}
	defer node.Close()
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()

	fmt.Printf("member %s at %s in community %s\n", me.Public().ID(), ep.LocalAddr(), board.master.CommunityID())
	// Join, replaying the stored messages through the handlers first: the
	// "replayed" lines are the state rebuilt from the store.
	var c *dispersy.Community
	err = node.Do(ctx, func(e *dispersy.Engine) (err error) {
		if *admin { // idempotent: signs the admin's grants on the first start only
			c, err = e.CreateCommunity(board, masterKey, dispersy.WithReplay())
		} else {
			c, err = e.Join(board, dispersy.WithReplay())
		}
		if err == nil {
			board.printState(c)
		}
		return err
	})
	if err != nil {
		return err
	}

	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		page := debughttp.New(node, nil)
		defer page.Close()
		go func() { _ = http.Serve(ln, page) }()
		defer ln.Close()
		fmt.Printf("status page at http://%s/\n", ln.Addr())
	}
	go commands(ctx, node, c, board)
	if err := <-done; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// commands reads and runs the commands on standard input.
func commands(ctx context.Context, node *dispersy.Node, c *dispersy.Community, board *Board) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		verb, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		err := node.Do(ctx, func(e *dispersy.Engine) error {
			switch verb {
			case "post":
				_, err := dispersy.Create(c, PostType, Text{arg})
				return err
			case "pin":
				_, err := dispersy.Create(c, PinType, Text{arg})
				if errors.Is(err, dispersy.ErrNotPermitted) {
					fmt.Println("pin refused: not permitted")
					return nil
				}
				return err
			case "grant":
				return grant(e, c, arg)
			case "state":
				board.printState(c)
				return nil
			case "":
				return nil
			}
			return fmt.Errorf("unknown command %q: post, pin, grant or state", verb)
		})
		if err != nil {
			fmt.Println("error:", err)
		}
	}
}

// grant gives member mid (hex) the pin permission. The member's public key
// comes from the store: it is there once one of its messages arrived.
func grant(e *dispersy.Engine, c *dispersy.Community, mid string) error {
	var id keys.MemberID
	b, err := hex.DecodeString(mid)
	if err != nil || len(b) != len(id) {
		return fmt.Errorf("grant: %q is not a member id (40 hex digits)", mid)
	}
	copy(id[:], b)
	rec, ok, err := e.Store().Member(id)
	if err != nil {
		return err
	}
	if !ok || rec.PublicKey == nil {
		return fmt.Errorf("grant: member %s unknown here yet: wait for one of its posts", id)
	}
	pk, err := keys.ParsePublicKey(rec.PublicKey)
	if err != nil {
		return err
	}
	if _, err := c.Authorize(dispersy.Grants(pk, dispersy.Permit, PinType)); err != nil {
		return err
	}
	fmt.Println("granted pin to", id)
	return nil
}

// printState prints what the handlers counted, and whether we may pin. It
// runs on the engine's goroutine.
func (b *Board) printState(c *dispersy.Community) {
	fmt.Printf("state: %d posts, %d pins, may pin: %v\n",
		b.posts, len(b.pins), c.Allowed(c.Me().ID(), PinType, dispersy.Permit))
}
