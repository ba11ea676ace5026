// Package docs holds no code: it is the home of the project's documentation
// (README.md at the module root and the Markdown files in this folder) and of
// the tests that keep it honest.
//
// # What the tests check
//
// TestCodeBlocks compiles and vets every ```go block of README.md and of
// docs/*.md against the code of this module, checks that it is gofmt
// formatted, and runs the programs that state their output. TestLinks checks
// that every relative link points to a file that exists and, for a link into
// a Markdown file, to a heading that exists.
//
// # Usage
//
//	go test ./docs/                     # every document
//	go test ./docs/ -run CodeBlocks -v  # lists each block it compiled
//
// # Convention for Go code blocks
//
// Write ```go only for Go that compiles; use ```text or ```sh for anything
// else (output, shell sessions, pseudo-code). There is no way to skip a go
// block.
//
//   - A block that starts with a package clause (after comments) is a
//     complete file, compiled as a package of its own. A package main block
//     that ends with a "// Output:" comment, as a testable Example does, is
//     also run, and its standard output must equal the lines after it.
//   - Every other block is a fragment of the document's own package: the
//     fragments of one document are compiled together, each in a file of its
//     own, so a type or function declared in one block can be used in a later
//     one, and two blocks must not declare the same name.
//   - A fragment whose first line of code starts with func, type, var, const
//     or import is a list of declarations, compiled as is.
//   - Any other fragment is a list of statements. It is compiled as the body of
//     a function returning error (so "return err" works; "return nil" is
//     added when the block does not end with a return). The names it uses
//     but does not declare are listed on its first line as a comment,
//     "// given: ctx context.Context, c *dispersy.Community", which become
//     the function's parameters; the reader sees where they come from.
//   - Imports are added for the packages a fragment uses by name: this
//     module's packages (dispersy, dispersytest, policy, conversion, keys,
//     timeline, database, udp, walker, bloom, chat) and common standard
//     library ones (context, errors, fmt, time, netip, rand for math/rand/v2,
//     ...; see stdImports in docs_test.go). A fragment with its own import
//     declaration gets nothing added.
//
// Errors are reported at the Markdown file and line (the generated files
// carry //line directives), e.g. "docs/usage.md:212:3: undefined: node".
//
// # Invariants
//
//   - The check runs the real go command on a temporary workspace (go.work)
//     that uses this module, so a block sees exactly the exported API a user
//     sees; nothing is written inside the repository.
//   - Timing never decides the outcome: a program block is run to completion
//     and only its output is compared.
package docs
