package main

import (
	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/catchup"
)

// withCatchup attaches catch-up (package dispersy/catchup: a fingerprint
// compared after every walk exchange, reconciliation and a paced transfer
// on a mismatch) to cfg when the -catchup flag is on (the default), so the
// last missing messages arrive at the next exchange with any holder instead
// of after a random number of bloom-sync walks (issue #17).
func withCatchup(cfg *dispersy.Config, o options) {
	if o.catchup {
		catchup.Enable(cfg, catchup.Options{})
	}
}
