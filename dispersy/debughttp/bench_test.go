package debughttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy/debughttp"
)

// benchServe runs one node whose SQLite store holds lines chat lines and
// returns the URL of its handler.
func benchServe(b *testing.B, lines int) string {
	b.Helper()
	nodes := startNodes(b, 1, lines)
	h := debughttp.New(nodes[0], nil)
	b.Cleanup(h.Close)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL + "/"
}

func benchGet(b *testing.B, url string) {
	b.Helper()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %s", url, resp.Status)
		}
		b.SetBytes(n)
	}
}

// BenchmarkStatusJSON: one status.json request (a snapshot of the node,
// its store's message count included, and the JSON).
func BenchmarkStatusJSON(b *testing.B) { sizes(b, "status.json") }

// BenchmarkMetrics: one Prometheus scrape.
func BenchmarkMetrics(b *testing.B) { sizes(b, "metrics") }

func sizes(b *testing.B, path string) {
	for _, lines := range []int{1000, 10000} {
		b.Run(fmt.Sprint("messages=", lines), func(b *testing.B) { benchGet(b, benchServe(b, lines)+path) })
	}
}
