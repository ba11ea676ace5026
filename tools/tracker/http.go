package main

import (
	"fmt"
	"io"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/tools/internal/statuspage"
)

// serveStatus serves node's status page, status.json and metrics on addr
// (-http) and prints where. The returned stop shuts the server down.
func serveStatus(addr string, node *dispersy.Node, stdout io.Writer) (stop func(), err error) {
	url, stop, err := statuspage.Serve(addr, node)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "status page on %s (status.json, metrics)\n", url)
	return stop, nil
}
