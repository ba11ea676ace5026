package dhtsim_test

import (
	"testing"

	"github.com/dispersy-go/dispersy/dht/dhtsim"
)

func TestSmall(t *testing.T) {
	res, err := dhtsim.Run(dhtsim.Config{Peers: 200, Values: 50, Lookups: 200, Loss: 0.1, Seed: 1, Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
}
