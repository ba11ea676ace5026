package dlog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dispersy-go/dispersy/dispersy"
	"github.com/dispersy-go/dispersy/dispersy/dispersytest"
	"github.com/dispersy-go/dispersy/dispersy/dlog"
	"github.com/dispersy-go/dispersy/keys"
)

func TestLevelsAndFields(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	l := dlog.New(h)
	l.Debug().Msg("not enabled")
	l.Warn().Str("peer", "127.0.0.1:7000").Int("attempts", 3).Float64("ratio", 0.5).Err(errors.New("boom")).Msg("bootstrap silent")
	l.Info().Dict("sub", zerolog.Dict().Int("depth", 2)).Bool("ok", true).Msg("plain")
	out := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(out) != 2 {
		t.Fatalf("%d lines, want 2 (debug is disabled):\n%s", len(out), buf.String())
	}
	for _, want := range []string{`"level":"WARN"`, `"msg":"bootstrap silent"`, `"peer":"127.0.0.1:7000"`, `"attempts":3`, `"ratio":0.5`, `"error":"boom"`} {
		if !strings.Contains(out[0], want) {
			t.Errorf("line %s lacks %s", out[0], want)
		}
	}
	if !strings.Contains(out[1], `"level":"INFO"`) || !strings.Contains(out[1], `"ok":true`) || !strings.Contains(out[1], `"sub":{"depth":2}`) {
		t.Errorf("line %s", out[1])
	}
}

// TestHandlerRecords checks the records a handler receives: level, message
// and typed attributes.
func TestHandlerRecords(t *testing.T) {
	rec := &recorder{}
	l := dlog.New(rec)
	l.Error().Int("n", 7).Msg("engine stopped")
	if len(rec.records) != 1 {
		t.Fatalf("%d records", len(rec.records))
	}
	r := rec.records[0]
	if r.Level != slog.LevelError || r.Message != "engine stopped" || r.Time.IsZero() {
		t.Errorf("record %v %q %v", r.Level, r.Message, r.Time)
	}
	var n int64
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "n" && a.Value.Kind() == slog.KindInt64 {
			n = a.Value.Int64()
		}
		return true
	})
	if n != 7 {
		t.Errorf("attribute n = %d, want the integer 7", n)
	}
	if _, err := dlog.Writer(rec).Write([]byte("not json\n")); err != nil || rec.records[1].Message != "not json" {
		t.Errorf("a non-JSON line: %v, %+v", err, rec.records)
	}
}

type recorder struct{ records []slog.Record }

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestEngineLogsThroughSlog: an engine configured with New logs its lines
// (here "joined community") into the application's slog handler.
func TestEngineLogsThroughSlog(t *testing.T) {
	rec := &recorder{}
	cfg := dispersy.DefaultConfig()
	cfg.Logger = dlog.New(rec)
	e, err := dispersy.NewEngine(cfg, keys.DeriveKey(keys.Ed25519, []byte("slog")), dispersytest.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	e.SetTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := e.Join(dispersytest.NewDebugCommunity()); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.records {
		if r.Message == "joined community" && r.Level == slog.LevelInfo {
			var overlay string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "overlay" {
					overlay = a.Value.String()
				}
				return true
			})
			if overlay != "debug" {
				t.Errorf("overlay attribute %q", overlay)
			}
			return
		}
	}
	t.Errorf("no \"joined community\" record among %d", len(rec.records))
}
