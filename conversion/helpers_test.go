package conversion_test

import (
	"fmt"
	"testing"

	"github.com/dispersy-go/dispersy/conversion"
	"github.com/dispersy-go/dispersy/keys"
	"github.com/dispersy-go/dispersy/policy"
)

// Test identities: DeriveKey keys, so every signature is deterministic.
var (
	masterKey = keys.DeriveKey(keys.Ed448, []byte("dispersy-go golden master"))
	testCID   = masterKey.Public().CommunityID()

	aliceEd25519 = keys.DeriveKey(keys.Ed25519, []byte("dispersy-go golden alice"))
	bobEd25519   = keys.DeriveKey(keys.Ed25519, []byte("dispersy-go golden bob"))
	aliceEd448   = keys.DeriveKey(keys.Ed448, []byte("dispersy-go golden alice"))
	bobEd448     = keys.DeriveKey(keys.Ed448, []byte("dispersy-go golden bob"))
)

// keyring maps member ids to keys: the test's stand-in for the identities an
// engine has stored, used to verify frames whose members are encoded by id.
var keyring = map[keys.MemberID]*keys.PrivateKey{}

func init() {
	for _, k := range []*keys.PrivateKey{masterKey, aliceEd25519, bobEd25519, aliceEd448, bobEd448} {
		keyring[k.ID()] = k
	}
}

// Enumeration of the policy values: the same lists as policy's
// TestAllCombinations (test code cannot be imported, so it is repeated here).

func authentications() []policy.Authentication {
	return []policy.Authentication{
		policy.NoAuthentication{},
		policy.MemberAuthentication{Encoding: policy.EncodeKey},
		policy.MemberAuthentication{Encoding: policy.EncodeID},
		policy.DoubleMemberAuthentication{Encoding: policy.EncodeKey},
		policy.DoubleMemberAuthentication{Encoding: policy.EncodeID},
	}
}

func resolutions() []policy.Resolution {
	return []policy.Resolution{
		policy.PublicResolution{},
		policy.LinearResolution{},
		policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}, policy.LinearResolution{}}},
		policy.DynamicResolution{Policies: []policy.Resolution{policy.PublicResolution{}}},
	}
}

func distributions() []policy.Distribution {
	prune := policy.GlobalTimePruning{Inactive: 10, Pruned: 20}
	var out []policy.Distribution
	out = append(out, policy.DirectDistribution{})
	for _, seq := range []bool{false, true} {
		for _, p := range []policy.Pruning{nil, prune} {
			out = append(out, policy.FullSyncDistribution{Priority: 128, SequenceNumbers: seq, Pruning: p})
		}
	}
	for _, p := range []policy.Pruning{nil, prune} {
		out = append(out, policy.LastSyncDistribution{Priority: 128, HistorySize: 1, Pruning: p})
	}
	return out
}

func destinations() []policy.Destination {
	return []policy.Destination{policy.CandidateDestination{}, policy.CommunityDestination{NodeCount: 10}}
}

// validSets returns every valid combination of the enumerated values, in a
// fixed order.
func validSets() []policy.Set {
	var out []policy.Set
	for _, a := range authentications() {
		for _, r := range resolutions() {
			for _, d := range distributions() {
				for _, dst := range destinations() {
					s := policy.Set{Authentication: a, Resolution: r, Distribution: d, Destination: dst}
					if policy.Check(s) == nil {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// allFormats returns one format per valid combination, ids 1, 2, 3...
func allFormats(t testing.TB) []*conversion.Format {
	t.Helper()
	sets := validSets()
	if len(sets) > conversion.LastUserID {
		t.Fatalf("%d combinations do not fit in the user id range", len(sets))
	}
	out := make([]*conversion.Format, len(sets))
	for i, s := range sets {
		out[i] = &conversion.Format{ID: uint8(i + 1), Name: fmt.Sprintf("combination-%d", i+1), Policies: s}
	}
	return out
}

func mustConversion(t testing.TB, version uint8, formats ...*conversion.Format) *conversion.Conversion {
	t.Helper()
	c, err := conversion.NewConversion(version, formats...)
	if err != nil {
		t.Fatalf("NewConversion(%d): %v", version, err)
	}
	return c
}

func mustCodec(t testing.TB, cid keys.CommunityID, convs ...*conversion.Conversion) *conversion.Codec {
	t.Helper()
	c, err := conversion.NewCodec(cid, convs...)
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	return c
}

// authorFor returns the frame author for key k under encoding enc: by key it
// carries the key, by id only the id and scheme (as Decode returns it).
func authorFor(k *keys.PrivateKey, enc policy.MemberEncoding) conversion.Author {
	if enc == policy.EncodeID {
		return conversion.Author{ID: k.ID(), Scheme: k.Scheme()}
	}
	return conversion.AuthorOf(k.Public())
}

// signFrame fills f.Authors from signers (per the format's encoding), signs
// the body with each signer and returns the packet. A nil signer leaves an
// all-zero placeholder signature, as a double-signed message carries before
// its second member signs.
func signFrame(t testing.TB, codec *conversion.Codec, f *conversion.Frame, members []*keys.PrivateKey, signers []*keys.PrivateKey) []byte {
	t.Helper()
	enc := policy.Encoding(f.Format.Policies.Authentication)
	f.Authors = nil
	for _, m := range members {
		f.Authors = append(f.Authors, authorFor(m, enc))
	}
	conv := codecConversion(t, codec, f.CommunityVersion)
	body, err := conversion.AppendBody(nil, conv, codec.Community(), f)
	if err != nil {
		t.Fatalf("AppendBody(%s): %v", f.Format.Name, err)
	}
	f.Signatures = nil
	for i, m := range members {
		if signers != nil && signers[i] == nil {
			f.Signatures = append(f.Signatures, make([]byte, m.Scheme().SignatureSize()))
			continue
		}
		f.Signatures = append(f.Signatures, m.Sign(body))
	}
	pkt, err := codec.Encode(f)
	if err != nil {
		t.Fatalf("Encode(%s): %v", f.Format.Name, err)
	}
	if string(pkt[:len(body)]) != string(body) {
		t.Fatalf("Encode(%s) does not start with AppendBody", f.Format.Name)
	}
	return pkt
}

func codecConversion(t testing.TB, codec *conversion.Codec, version uint8) *conversion.Conversion {
	t.Helper()
	for _, c := range codec.Conversions() {
		if c.Version() == version {
			return c
		}
	}
	t.Fatalf("codec has no conversion %d", version)
	return nil
}

// signatureCheck is what the tests mean by "the signature check" of a
// decoded frame: every author's key is known (carried in the frame, or found
// in the keyring by member id), and Signatures[i] verifies Body() under
// Authors[i]'s key. It returns nil when the check passes.
func signatureCheck(f *conversion.Frame) error {
	for i := range f.Authors {
		if f.Authors[i].Key != nil {
			continue
		}
		k, ok := keyring[f.Authors[i].ID]
		if !ok || k.Scheme() != f.Authors[i].Scheme {
			return fmt.Errorf("author %d (%s) is unknown", i, f.Authors[i].ID)
		}
		f.Authors[i].Key = k.Public()
	}
	if err := f.Verify(); err != nil {
		return err
	}
	// The same check spelled out with keys.Verify, independent of
	// Frame.Verify.
	for i, a := range f.Authors {
		if !a.Key.Verify(f.Body(), f.Signatures[i]) {
			return fmt.Errorf("Frame.Verify passed but signature %d does not verify", i)
		}
	}
	return nil
}

// mkSet builds a policy set from its four policies.
func mkSet(a policy.Authentication, r policy.Resolution, d policy.Distribution, dst policy.Destination) policy.Set {
	return policy.Set{Authentication: a, Resolution: r, Distribution: d, Destination: dst}
}
