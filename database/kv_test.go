package database

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/dispersy"
)

// TestKV writes, overwrites, lists, deletes and reopens the key/value
// table, keeping namespaces apart.
func TestKV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][3]string{{"a", "k2", "v2"}, {"a", "k1", "v1"}, {"b", "k1", "other"}, {"a", "k2", "v2b"}, {"a", "k3", ""}} {
		if err := s.KVPut(kv[0], []byte(kv[1]), []byte(kv[2])); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.KVDelete("a", []byte("k3")); err != nil {
		t.Fatal(err)
	}
	if err := s.KVDelete("a", []byte("absent")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ks, vs, err := s.KVList("a")
	if err != nil {
		t.Fatal(err)
	}
	str := func(bs [][]byte) (out []string) {
		for _, b := range bs {
			out = append(out, string(b))
		}
		return out
	}
	if !slices.Equal(str(ks), []string{"k1", "k2"}) || !slices.Equal(str(vs), []string{"v1", "v2b"}) {
		t.Fatalf("namespace a: %q %q", str(ks), str(vs))
	}
	if ks, _, _ := s.KVList("none"); len(ks) != 0 {
		t.Fatalf("empty namespace listed %q", str(ks))
	}
	s.Close()
	if err := s.KVPut("a", []byte("x"), nil); !errors.Is(err, dispersy.ErrStoreClosed) {
		t.Fatalf("KVPut after Close: %v", err)
	}
}
