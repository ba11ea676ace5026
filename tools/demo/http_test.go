package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/debughttp"
)

// fetchOnAnnounce is the demo's stderr: when the demo announces its status
// page, it reads status.json there at once, while the demo runs.
type fetchOnAnnounce struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	url    string
	status *debughttp.Status
	err    error
}

func (w *fetchOnAnnounce) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.url != "" {
		return len(p), nil
	}
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "status page of peer 0 on "); ok {
			w.url = strings.Fields(rest)[0]
			w.status, w.err = getStatus(w.url)
		}
	}
	return len(p), nil
}

func getStatus(url string) (*debughttp.Status, error) {
	resp, err := http.Get(url + "status.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st debughttp.Status
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// TestHTTP: -http serves peer 0's status.json while the demo runs, and
// stops serving when it ends.
func TestHTTP(t *testing.T) {
	var out bytes.Buffer
	errw := &fetchOnAnnounce{}
	dir := t.TempDir()
	code := run([]string{"-peers", "3", "-messages", "6", "-dir", dir, "-http", "127.0.0.1:0", "-timeout", "2m"}, &out, errw)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errw.buf.String())
	}
	checkSummary(t, out.String(), 3, 6)
	if errw.url == "" {
		t.Fatalf("the demo did not announce its status page:\n%s", errw.buf.String())
	}
	if errw.err != nil {
		t.Fatalf("status.json while the demo ran: %v", errw.err)
	}
	st := errw.status
	if len(st.Member) != 40 || len(st.Communities) != 1 || st.Communities[0].Overlay != "chat" {
		t.Errorf("status.json: member %q, communities %+v", st.Member, st.Communities)
	}
	if _, err := getStatus(errw.url); err == nil {
		t.Errorf("%s still serves after the demo ended", errw.url)
	}
}

// TestHTTPBadAddress: an -http address that cannot be listened on is a
// local failure.
func TestHTTPBadAddress(t *testing.T) {
	code, _, errs := demoRun(t, "-peers", "2", "-messages", "2", "-http", "127.0.0.1:99999")
	if code != exitFail || !strings.Contains(errs, "cannot serve the status page: -http 127.0.0.1:99999") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
