// Package statuspage serves a node's status page for the tools' -http
// flag: package dispersy/debughttp on a TCP address of its own.
package statuspage

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/debughttp"
)

// Serve serves node's status page, status.json and metrics on TCP address
// addr and returns the page's URL. stop shuts the server down and stops
// the handler's sampling.
func Serve(addr string, node *dispersy.Node) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-http %s: %w", addr, err)
	}
	h := debughttp.New(node, nil)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return fmt.Sprintf("http://%s/", ln.Addr()), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		h.Close()
	}, nil
}
