// Command createkey generates dispersy-go keys: community master keys and
// member keys. It is the Go counterpart of Python Dispersy's
// tool/createkey.py.
//
// # Usage
//
//	go run ./tools/createkey [-out DIR [-pem]] [CURVE ...]
//	go run ./tools/createkey -read FILE [-pem]
//
// Each CURVE (default ed25519) gives one block of "name: value" lines, blocks
// separated by a blank line:
//
//	curve: high
//	scheme: ed448 (tag 2)
//	public: 02…        hex of the binary public key (tag byte + raw key)
//	private: 02…       hex of the binary private key (tag byte + seed); secret;
//	                   only without -out (with -out the file holds it)
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
//	-out DIR   write each private key, as PEM, to DIR/<mid>.key with mode
//	           0600, and not to stdout (the block gets a "file:" line
//	           instead of "private:"); an existing file is never overwritten
//	-pem       print only the public key of each key, as a PEM block, with
//	           nothing around it: a script redirects it into a public key
//	           file. It needs -out (else the private key would be lost) or
//	           -read.
//	-read FILE print the public information of the key in FILE: a private
//	           key (PEM or hex) as written by -out, or a public key (PEM), as
//	           written by -pem. Hex is always read as a private key: the
//	           binary public and private keys have the same length.
//	-h         print the usage
//
// A master key for a new community, the secret in a file and the public
// half where the community's code can embed it:
//
//	go run ./tools/createkey -out keys -pem high > master.pub
//	go run ./tools/createkey -read master.pub     # its community id (mid)
//
// Exit status: 0 on success, 1 when a file cannot be written or read (or
// already exists), 2 for a usage error (an unknown flag or curve name, -pem
// without -out or -read).
//
// Keys come from crypto/rand. The key file holds the only copy of a master
// key's secret: keep it safe, since whoever holds it administers the
// community.
package main
