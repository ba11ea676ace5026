package keys_test

import (
	"fmt"

	"github.com/dispersy-go/dispersy/keys"
)

// Derive a deterministic key (as tests and simulations do), sign a message
// and verify it with the public key parsed back from its text form.
func Example() {
	k := keys.DeriveKey(keys.Ed25519, []byte("dispersy-go known answer"))
	msg := []byte("hello, community")
	sig := k.Sign(msg)

	pub, err := keys.ParsePublicKeyText(k.Public().PEM())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scheme:", pub.Scheme())
	fmt.Println("signature bytes:", len(sig))
	fmt.Println("verifies:", pub.Verify(msg, sig))
	fmt.Println("tampered verifies:", pub.Verify([]byte("hello, Community"), sig))
	fmt.Println("mid:", pub.ID())
	// Output:
	// scheme: ed25519
	// signature bytes: 64
	// verifies: true
	// tampered verifies: false
	// mid: 244edeaae779425b1fb7d4d36dc1aaa130544c5c
}

// Map Dispersy's curve names onto schemes.
func ExampleSchemeByName() {
	for _, name := range []string{"curve25519", "medium", "high", "sect571r1"} {
		s, err := keys.SchemeByName(name)
		if err != nil {
			fmt.Printf("%s: unknown\n", name)
			continue
		}
		fmt.Printf("%s: %s, %d-byte signatures\n", name, s, s.SignatureSize())
	}
	// Output:
	// curve25519: ed25519, 64-byte signatures
	// medium: ed25519, 64-byte signatures
	// high: ed448, 114-byte signatures
	// sect571r1: unknown
}
