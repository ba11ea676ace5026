// Package dlog lets the dispersy library log through a log/slog handler:
// the application's own logger, instead of zerolog.
//
// dispersy.Config.Logger is a zerolog.Logger. New returns one whose lines
// become slog records for the given handler, with their level, message and
// fields:
//
//	cfg := dispersy.DefaultConfig()
//	cfg.Logger = dlog.New(slog.Default().Handler())
//
// zerolog writes each line as JSON; the adapter decodes it again, so a line
// costs a JSON round trip. The library logs little above debug, and only
// what the handler enables is produced at all.
package dlog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// New returns a zerolog.Logger that hands every line to h as a slog.Record.
// Its level is the lowest one h enables (debug, info, warn or error), so
// disabled lines are never formatted.
func New(h slog.Handler) zerolog.Logger {
	level := zerolog.Disabled
	for _, l := range []struct {
		s slog.Level
		z zerolog.Level
	}{{slog.LevelError, zerolog.ErrorLevel}, {slog.LevelWarn, zerolog.WarnLevel}, {slog.LevelInfo, zerolog.InfoLevel}, {slog.LevelDebug, zerolog.DebugLevel}} {
		if h.Enabled(context.Background(), l.s) {
			level = l.z
		}
	}
	return zerolog.New(Writer(h)).Level(level)
}

// Writer returns an io.Writer that turns zerolog JSON lines into slog
// records for h; New uses it. A line that is not a JSON object is logged as
// its text, at info.
func Writer(h slog.Handler) io.Writer { return writer{h} }

type writer struct{ h slog.Handler }

// slogLevel maps zerolog's level names.
var slogLevel = map[string]slog.Level{
	"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "error": slog.LevelError, "fatal": slog.LevelError + 4, "panic": slog.LevelError + 8,
}

func (w writer) Write(p []byte) (int, error) {
	var fields map[string]any
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, string(bytes.TrimSpace(p)), 0)
		return len(p), w.h.Handle(context.Background(), r)
	}
	level := slog.LevelInfo
	if s, ok := fields[zerolog.LevelFieldName].(string); ok {
		if l, ok := slogLevel[s]; ok {
			level = l
		}
	}
	t := time.Now()
	if s, ok := fields[zerolog.TimestampFieldName].(string); ok {
		if pt, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t = pt
		}
	}
	msg, _ := fields[zerolog.MessageFieldName].(string)
	for _, k := range []string{zerolog.LevelFieldName, zerolog.TimestampFieldName, zerolog.MessageFieldName} {
		delete(fields, k)
	}
	r := slog.NewRecord(t, level, msg, 0)
	for _, k := range slices.Sorted(maps.Keys(fields)) { // zerolog's order is lost in the map: sort
		r.AddAttrs(attr(k, fields[k]))
	}
	if !w.h.Enabled(context.Background(), level) {
		return len(p), nil
	}
	return len(p), w.h.Handle(context.Background(), r)
}

// attr converts a decoded JSON value: numbers to int64 when they are
// integers, objects to groups.
func attr(k string, v any) slog.Attr {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return slog.Int64(k, i)
		}
		f, _ := x.Float64()
		return slog.Float64(k, f)
	case map[string]any:
		var as []any
		for _, kk := range slices.Sorted(maps.Keys(x)) {
			as = append(as, attr(kk, x[kk]))
		}
		return slog.Group(k, as...)
	}
	return slog.Any(k, v)
}
