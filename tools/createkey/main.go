package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dispersy-go/dispersy/keys"
)

// maxKeyFile bounds what -read loads: a key file is a few hundred bytes.
const maxKeyFile = 64 << 10

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // a file could not be written or read
	exitUsage = 2 // bad flags or curve names
)

// run is the command: it parses args, writes the key blocks to stdout and
// problems to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("createkey", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // errors and usage are printed below
	outDir := flags.String("out", "", "")
	readFile := flags.String("read", "", "")
	pemOnly := flags.Bool("pem", false, "")
	// -seed is hidden: it derives the keys deterministically from its value
	// (keys.DeriveKey) so that tests get stable output. Never use it for
	// real keys.
	seed := flags.String("seed", "", "")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "createkey: %v\n", err)
		usage(stderr)
		return exitUsage
	}

	if *readFile != "" {
		if flags.NArg() > 0 || *outDir != "" {
			fmt.Fprintln(stderr, "createkey: -read takes no curve names and no -out")
			usage(stderr)
			return exitUsage
		}
		return readKey(*readFile, *pemOnly, stdout, stderr)
	}
	if *pemOnly && *outDir == "" {
		// The private key would be printed nowhere and saved nowhere.
		fmt.Fprintln(stderr, "createkey: -pem needs -out DIR: it prints only the public key, so the private key must go to a file")
		usage(stderr)
		return exitUsage
	}

	names := flags.Args()
	if len(names) == 0 {
		names = []string{"ed25519"}
	}
	schemes := make([]keys.Scheme, len(names))
	for i, name := range names {
		s, err := keys.SchemeByName(name)
		if err != nil {
			fmt.Fprintf(stderr, "createkey: unknown curve %q; valid names: %s\n", name, strings.Join(keys.CurveNames(), ", "))
			return exitUsage
		}
		schemes[i] = s
	}

	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o700); err != nil {
			fmt.Fprintf(stderr, "createkey: %v\n", err)
			return exitFail
		}
	}
	for i, s := range schemes {
		var k *keys.PrivateKey
		if *seed != "" {
			k = keys.DeriveKey(s, fmt.Appendf(nil, "%s/%d", *seed, i))
		} else {
			var err error
			if k, err = keys.Generate(s, rand.Reader); err != nil {
				fmt.Fprintf(stderr, "createkey: %v\n", err)
				return exitFail
			}
		}
		file := ""
		if *outDir != "" {
			file = filepath.Join(*outDir, k.ID().String()+".key")
			if err := writeKeyFile(file, k); err != nil {
				fmt.Fprintf(stderr, "createkey: %v\n", err)
				return exitFail
			}
		}
		if *pemOnly {
			io.WriteString(stdout, k.Public().PEM())
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		// With -out the file holds the private key; stdout (a terminal, a
		// log, a CI transcript) never shows it.
		priv := k
		if file != "" {
			priv = nil
		}
		printKey(stdout, strings.ToLower(strings.TrimSpace(names[i])), k.Public(), priv, file)
	}
	return exitOK
}

// writeKeyFile writes the private PEM of k to a new file with mode 0600. It
// refuses to overwrite an existing file.
func writeKeyFile(name string, k *keys.PrivateKey) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite a key file", name)
	}
	if err != nil {
		return err
	}
	// The umask may only remove bits from 0600; make the mode exact anyway.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := io.WriteString(f, k.PEM()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readKey prints the public information of the key stored in name: a
// private key (PEM or hex, as -out writes it) or a public key (PEM). With
// pemOnly it prints the public PEM alone.
func readKey(name string, pemOnly bool, stdout, stderr io.Writer) int {
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintf(stderr, "createkey: %v\n", err)
		return exitFail
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "createkey: %v\n", err)
		return exitFail
	}
	if len(data) > maxKeyFile {
		fmt.Fprintf(stderr, "createkey: %s: larger than %d bytes; not a key file\n", name, maxKeyFile)
		return exitFail
	}
	pub, err := parseKeyFile(string(data))
	if err != nil {
		fmt.Fprintf(stderr, "createkey: %s: %v\n", name, err)
		return exitFail
	}
	if pemOnly {
		io.WriteString(stdout, pub.PEM())
		return exitOK
	}
	printKey(stdout, pub.Scheme().String(), pub, nil, name)
	return exitOK
}

// parseKeyFile returns the public key of a key file's text. A public key
// PEM block is read as a public key; anything else as a private key (PEM
// or hex). Hex alone cannot say which half it is (a binary public and
// private key have the same length), so hex is read as a private key, as
// before public key files were accepted.
func parseKeyFile(text string) (*keys.PublicKey, error) {
	if strings.Contains(text, "-----BEGIN "+keys.PublicPEMType+"-----") {
		return keys.ParsePublicKeyText(text)
	}
	k, err := keys.ParsePrivateKeyText(text)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// printKey writes one block. priv is nil when only public information is
// to be shown.
func printKey(w io.Writer, curve string, pub *keys.PublicKey, priv *keys.PrivateKey, file string) {
	s := pub.Scheme()
	fmt.Fprintf(w, "curve: %s\n", curve)
	fmt.Fprintf(w, "scheme: %s (tag %d)\n", s, uint8(s))
	fmt.Fprintf(w, "public: %s\n", pub)
	if priv != nil {
		fmt.Fprintf(w, "private: %x\n", priv.Bytes())
	}
	fmt.Fprintf(w, "mid: %s\n", pub.ID())
	fmt.Fprintf(w, "signature: %d bytes\n", s.SignatureSize())
	if file != "" {
		fmt.Fprintf(w, "file: %s\n", file)
	}
	fmt.Fprintf(w, "public-pem:\n%s", pub.PEM())
	fmt.Fprintf(w, "go: var Master = keys.MustParsePublicKey(%s)\n", strconv.Quote(pub.PEM()))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `usage: createkey [-out DIR [-pem]] [CURVE ...]
       createkey -read FILE [-pem]

Generates one key per CURVE (default ed25519) and prints its curve, scheme,
public and private key (hex of the binary forms; the private key only
without -out), member id (for a master key: the community id), signature
size, public PEM, and a Go declaration to paste into a community definition.

Curves: %s
(curve25519, very-low, low and medium are Ed25519; high is Ed448.)

Flags:
  -out DIR    write each private key (PEM) to DIR/<mid>.key, mode 0600,
              and not to stdout; never overwrites an existing file
  -pem        print only the public key of each key, as PEM (needs -out or
              -read): createkey -out keys -pem high > master.pub
  -read FILE  print the public information of the key in FILE: a private
              key file (PEM or hex, as -out writes it) or a public key (PEM)
  -h          print this help

Exit status: 0 ok, 1 file error, 2 usage error.
`, strings.Join(keys.CurveNames(), ", "))
}
