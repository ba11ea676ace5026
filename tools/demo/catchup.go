package main

import (
	"errors"

	"github.com/dispersy-go/dispersy/dispersy"
)

// catchupAvailable says whether this build has the catch-up protocol
// (package dispersy/catchup: range-based set reconciliation and a paced
// bulk transfer). -reconcile defaults to it.
const catchupAvailable = false

// errNoCatchup is enableCatchup's answer to -reconcile without the
// protocol.
var errNoCatchup = errors.New("-reconcile: this build has no catch-up protocol (dispersy/catchup); use -reconcile=false")

// enableCatchup turns the catch-up protocol on in cfg when on is true; off
// leaves cfg as it is: bloom-filter sync only.
func enableCatchup(_ *dispersy.Config, on bool) error {
	if on && !catchupAvailable {
		return errNoCatchup
	}
	return nil
}
