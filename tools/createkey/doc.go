// Command createkey generates dispersy-go keys: community master keys and
// member keys. It is the Go counterpart of Python Dispersy's
// tool/createkey.py.
//
// # Usage
//
//	go run ./tools/createkey [-out DIR] [CURVE ...]
//	go run ./tools/createkey -read FILE
//
// Each CURVE (default ed25519) gives one block of "name: value" lines, blocks
// separated by a blank line:
//
//	curve: high
//	scheme: ed448 (tag 2)
//	public: 02…        hex of the binary public key (tag byte + raw key)
//	private: 02…       hex of the binary private key (tag byte + seed); secret
//	mid: 3caa…         member id; for a master key, the community id
//	signature: 114 bytes
//	public-pem:
//	-----BEGIN DISPERSY PUBLIC KEY-----
//	…
//	-----END DISPERSY PUBLIC KEY-----
//	go: var Master = keys.MustParsePublicKey("-----BEGIN DISPERSY PUBLIC KEY-----\n…")
//
// The go line is a Go declaration to paste into a community definition.
// Curve names are the plain scheme names ed25519 and ed448 and Python
// Dispersy's names: curve25519, very-low, low and medium (all Ed25519) and
// high (Ed448, what Dispersy used for master keys).
//
// Flags:
//
//	-out DIR   also write each private key, as PEM, to DIR/<mid>.key with
//	           mode 0600; an existing file is never overwritten
//	-read FILE print the public information of the private key in FILE
//	           (PEM or hex), as written by -out
//	-h         print the usage
//
// Exit status: 0 on success, 1 when a file cannot be written or read (or
// already exists), 2 for a usage error (an unknown flag or curve name).
//
// Keys come from crypto/rand. The key file holds the only copy of a master
// key's secret: keep it safe, since whoever holds it administers the
// community.
package main
