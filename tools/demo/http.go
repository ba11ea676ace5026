package main

import (
	"fmt"

	"github.com/dispersy-go/dispersy/tools/internal/statuspage"
)

// serveStatus serves peer 0's status page, status.json and metrics on
// -http until close, and says where on stderr (stdout holds the summary
// only).
func (d *runner) serveStatus() error {
	if d.o.http == "" {
		return nil
	}
	url, stop, err := statuspage.Serve(d.o.http, d.peers[0].node)
	if err != nil {
		return failf("cannot serve the status page: %v", err)
	}
	d.stopHTTP = stop
	fmt.Fprintf(d.stderr, "status page of peer 0 on %s (status.json, metrics)\n", url)
	return nil
}
