package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the file cannot be read, or what was asked for is not in it
	exitUsage = 2 // bad command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageErr is a command-line mistake: exit status 2 with a usage line.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageErr{msg: fmt.Sprintf(format, args...)}
}

// commands maps each subcommand to its implementation.
var commands = map[string]func(x *inspector, args []string) error{
	"communities": (*inspector).communities,
	"types":       (*inspector).types,
	"members":     (*inspector).members,
	"messages":    (*inspector).messages,
	"packet":      (*inspector).packet,
	"timeline":    (*inspector).timeline,
}

// run is the command: it parses args, reads the store, writes the report
// to stdout and problems to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	var rest []string
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			help(stdout)
			return exitOK
		case "-json", "--json":
			asJSON = true
		default:
			rest = append(rest, a)
		}
	}
	args = rest
	if len(args) == 0 {
		return fail(stderr, usagef("no store file given"))
	}
	path, cmd, rest := args[0], "communities", []string(nil)
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	f, ok := commands[cmd]
	if !ok {
		return fail(stderr, usagef("unknown command %q", cmd))
	}
	st, err := openStore(path)
	if err != nil {
		return fail(stderr, err)
	}
	x := &inspector{path: path, st: st, out: stdout, json: asJSON}
	err = f(x, rest)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %v", path, cerr)
	}
	return fail(stderr, err)
}

// fail reports err (if any) on stderr and returns the exit status.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "inspect: %v\n", err)
	var ue *usageErr
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, usageLine)
		return exitUsage
	}
	return exitFail
}

// usageLine is printed after every usage error.
const usageLine = "usage: inspect [-json] FILE [communities | types CID | members | messages CID [-type ID] [-limit N] | packet CID MEMBER GT | timeline CID] (inspect -h for help)"

func help(w io.Writer) {
	fmt.Fprint(w, `usage: inspect [-json] FILE [command]

Reads a dispersy-go store file (SQLite, as written by database.Open) and
prints what it holds. It never modifies the file: it refuses files it would
have to create, initialise or upgrade, and only reads.

Commands:
  communities          every community: id, master key, our member,
                       auto-load, classification, message count, highest
                       global time (the default command)
  types CID            the community's message types: id, name, priority,
                       sync direction, messages stored, of which undone
  members              every member the store names (as a master, as our
                       member, or as an author): id, key scheme, whether
                       its private key is stored, messages authored
  messages CID [-type ID] [-limit N]
                       one line per stored message, by global time: type,
                       creator, global time, sequence number, undone, size
  packet CID MEMBER GT the stored packet of MEMBER at global time GT,
                       decoded field by field with offsets; with the
                       community's definition when the tool knows it (the
                       chat and debug communities), else the shared frame
                       prefix and the fields it can infer
  timeline CID         the stored permission messages (ids 236, 242, 243)
                       as raw records, by global time

CID and MEMBER are hex ids; a unique prefix is enough.

-json (anywhere on the command line) prints one JSON document instead of
text, with the same information and more: messages -json adds each
message's hash and payload, the payload as hex and, for the chat and debug
communities and the built-in messages, decoded through its registered type
("type", "value"). Field names are stable; docs/usage.md lists them.

Exit status: 0 ok, 1 unreadable file or nothing found, 2 usage error.
`)
}
