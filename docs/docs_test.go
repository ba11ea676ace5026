package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// modulePath is the module whose documentation this package checks.
const modulePath = "github.com/dispersy-go/dispersy"

// moduleImports maps the package names a fragment may use without importing
// them to this module's import paths.
var moduleImports = map[string]string{
	"bloom":        modulePath + "/dispersy/bloom",
	"catchup":      modulePath + "/dispersy/catchup",
	"chat":         modulePath + "/examples/chat",
	"conversion":   modulePath + "/conversion",
	"database":     modulePath + "/database",
	"dispersy":     modulePath + "/dispersy",
	"dispersytest": modulePath + "/dispersy/dispersytest",
	"dlog":         modulePath + "/dispersy/dlog",
	"keys":         modulePath + "/keys",
	"keyfile":      modulePath + "/keys/keyfile",
	"lan":          modulePath + "/dispersy/lan",
	"peer":         modulePath + "/dispersy/peer",
	"tasks":        modulePath + "/dispersy/tasks",
	"policy":       modulePath + "/policy",
	"requestcache": modulePath + "/dispersy/requestcache",
	"timeline":     modulePath + "/timeline",
	"udp":          modulePath + "/dispersy/udp",
	"walker":       modulePath + "/dispersy/walker",
	"zerolog":      "github.com/rs/zerolog",
}

// stdImports maps standard library package names to their import paths.
// "rand" is math/rand/v2: a fragment that wants crypto/rand imports it.
var stdImports = map[string]string{
	"binary":   "encoding/binary",
	"bytes":    "bytes",
	"context":  "context",
	"errors":   "errors",
	"filepath": "path/filepath",
	"flag":     "flag",
	"fmt":      "fmt",
	"io":       "io",
	"log":      "log",
	"netip":    "net/netip",
	"os":       "os",
	"rand":     "math/rand/v2",
	"signal":   "os/signal",
	"slices":   "slices",
	"slog":     "log/slog",
	"strings":  "strings",
	"sync":     "sync",
	"syscall":  "syscall",
	"testing":  "testing",
	"time":     "time",
	"utf8":     "unicode/utf8",
}

// blockKind is what a Go code block holds.
type blockKind int

const (
	kindFile  blockKind = iota // a complete file with a package clause
	kindDecls                  // top-level declarations of the document's package
	kindStmts                  // statements, wrapped in a function
)

// block is one ```go block of a Markdown file.
type block struct {
	doc   string // the Markdown file, absolute
	line  int    // line of the block's first code line, 1-based
	src   string // the code, with the fence's indentation removed
	kind  blockKind
	given string   // parameters of a statement block ("// given: ...")
	want  []string // expected output of a package main block, nil if none
}

func (b block) String() string { return fmt.Sprintf("%s:%d", relPath(b.doc), b.line) }

// root is the module root, absolute.
var root = func() string {
	r, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return r
}()

func relPath(p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}

// documents returns README.md and docs/*.md, absolute, sorted.
func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"))
	slices.Sort(docs)
	return docs
}

var fenceRE = regexp.MustCompile("^([ \t]*)(```+|~~~+)[ \t]*([^ \t`]*)")

// parseBlocks returns the ```go blocks of a Markdown file.
func parseBlocks(path string, data []byte) ([]block, error) {
	var out []block
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, fence, lang := m[1], m[2], m[3]
		start := i + 1
		var code []string
		closed := false
		for i++; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimLeft(lines[i], " \t"), fence) &&
				strings.TrimSpace(strings.TrimLeft(strings.TrimLeft(lines[i], " \t"), fence[:1])) == "" {
				closed = true
				break
			}
			code = append(code, strings.TrimPrefix(lines[i], indent))
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: code block is never closed", relPath(path), start)
		}
		if lang != "go" {
			continue
		}
		b := block{doc: path, line: start + 1, src: strings.Join(code, "\n") + "\n"}
		if err := b.classify(); err != nil {
			return nil, fmt.Errorf("%v: %v", b, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// classify sets b's kind, given parameters and expected output.
func (b *block) classify() error {
	lines := strings.Split(b.src, "\n")
	if len(lines) > 0 {
		if g, ok := strings.CutPrefix(strings.TrimSpace(lines[0]), "// given:"); ok {
			b.given = strings.TrimSpace(g)
		}
	}
	first := ""
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		first = l
		break
	}
	switch {
	case first == "":
		return fmt.Errorf("empty go block")
	case strings.HasPrefix(first, "package "):
		b.kind = kindFile
	case hasKeyword(first, "func", "type", "var", "const", "import"):
		b.kind = kindDecls
	default:
		b.kind = kindStmts
	}
	if b.given != "" && b.kind != kindStmts {
		return fmt.Errorf("a \"// given:\" line only makes sense in a block of statements")
	}
	if b.kind == kindFile {
		for i, l := range lines {
			if strings.TrimSpace(l) != "// Output:" {
				continue
			}
			b.want = []string{}
			for _, o := range lines[i+1:] {
				o = strings.TrimSpace(o)
				text, ok := strings.CutPrefix(o, "//")
				if !ok {
					break
				}
				b.want = append(b.want, strings.TrimPrefix(text, " "))
			}
		}
	}
	return nil
}

func hasKeyword(line string, words ...string) bool {
	for _, w := range words {
		if rest, ok := strings.CutPrefix(line, w); ok && (rest == "" || rest[0] == ' ' || rest[0] == '(' || rest[0] == '\t') {
			return true
		}
	}
	return false
}

// pkgName is the package name of a document's fragments: its file name,
// letters and digits only ("usage", "readme").
func pkgName(doc string) string {
	base := strings.TrimSuffix(filepath.Base(doc), filepath.Ext(doc))
	var sb strings.Builder
	for _, r := range strings.ToLower(base) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			sb.WriteRune(r)
		}
	}
	if sb.Len() == 0 || unicode.IsDigit(rune(sb.String()[0])) {
		return "doc" + sb.String()
	}
	return sb.String()
}

// generate returns the Go file that compiles b.
func generate(b block) ([]byte, error) {
	line := fmt.Sprintf("//line %s:%d\n", b.doc, b.line)
	if b.kind == kindFile {
		return []byte(line + b.src), nil
	}
	var body strings.Builder
	if b.kind == kindStmts {
		fmt.Fprintf(&body, "func _(%s) error {\n%s%s", b.given, line, b.src)
		term, err := terminates(b)
		if err != nil {
			return nil, err
		}
		if !term {
			body.WriteString("return nil\n")
		}
		body.WriteString("}\n")
	} else {
		body.WriteString(line + b.src)
	}
	file := "package " + pkgName(b.doc) + "\n\n" + body.String()
	f, err := parser.ParseFile(token.NewFileSet(), "", file, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", b, err)
	}
	if len(f.Imports) > 0 {
		return []byte(file), nil // the block imports what it needs itself
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	var imports []string
	for name := range used {
		if p, ok := moduleImports[name]; ok {
			imports = append(imports, p)
		} else if p, ok := stdImports[name]; ok {
			imports = append(imports, p)
		}
	}
	slices.Sort(imports)
	var hdr strings.Builder
	hdr.WriteString("package " + pkgName(b.doc) + "\n\n")
	for _, p := range imports {
		fmt.Fprintf(&hdr, "import %q\n", p)
	}
	return []byte(hdr.String() + "\n" + body.String()), nil
}

// terminates reports whether a statement block ends in a terminating
// statement, so that no "return nil" may follow it.
func terminates(b block) (bool, error) {
	src := "package p\nfunc _() error {\n" + b.src + "}\n"
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return false, fmt.Errorf("%v: %v", b, err)
	}
	fn := f.Decls[0].(*ast.FuncDecl)
	return isTerminating(fn.Body), nil
}

// isTerminating is the spec's terminating statement, for the forms a
// documentation block uses.
func isTerminating(s ast.Stmt) bool {
	switch s := s.(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BlockStmt:
		return len(s.List) > 0 && isTerminating(s.List[len(s.List)-1])
	case *ast.IfStmt:
		return s.Else != nil && isTerminating(s.Body) && isTerminating(s.Else)
	case *ast.ForStmt:
		return s.Cond == nil && !hasBreak(s.Body)
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

func hasBreak(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if b, ok := n.(*ast.BranchStmt); ok && b.Tok == token.BREAK {
			found = true
		}
		return !found
	})
	return found
}

// firstDiff describes the first line where b's code and its gofmt form
// differ, at its line in the Markdown file.
func firstDiff(b block, formatted string) string {
	got, want := strings.Split(b.src, "\n"), strings.Split(formatted, "\n")
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d is\n\t%q\nwant\n\t%q", b.line+i, g, w)
		}
	}
	return "trailing space differs"
}

// goVersion returns the go directive of the module's go.mod.
func goVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// goCommand returns a go command run in dir with the workspace work.
func goCommand(ctx context.Context, t *testing.T, dir, work string, args ...string) *exec.Cmd {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the documentation's code blocks: %v", err)
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	// GOFLAGS is replaced: -mod is refused in workspace mode, and the
	// temporary module has no version control to stamp.
	cmd.Env = append(os.Environ(), "GOWORK="+work, "GOFLAGS=-buildvcs=false")
	return cmd
}

// readable shortens the absolute paths in go command output.
func readable(out []byte) string {
	return strings.ReplaceAll(string(out), root+string(filepath.Separator), "")
}

func TestCodeBlocks(t *testing.T) {
	var blocks []block
	for _, doc := range documents(t) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseBlocks(doc, data)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	if len(blocks) == 0 {
		t.Fatal("no go blocks found: the documents are missing or the parser is broken")
	}

	for _, b := range blocks {
		formatted, err := format.Source([]byte(b.src))
		switch {
		case err != nil:
			t.Errorf("%v: does not parse: %v", b, err)
		case !bytes.Equal(formatted, []byte(b.src)):
			t.Errorf("%v: not gofmt formatted: %s", b, firstDiff(b, string(formatted)))
		}
	}

	tmp := t.TempDir()
	work := filepath.Join(tmp, "go.work")
	ver := goVersion(t)
	mod := filepath.Join(tmp, "doc")
	write := func(path string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(work, fmt.Appendf(nil, "go %s\n\nuse (\n\t%s\n\t./doc\n)\n", ver, root))
	write(filepath.Join(mod, "go.mod"), fmt.Appendf(nil, "module doccheck\n\ngo %s\n", ver))

	var programs []string // package dirs to run, parallel to wants
	var wants []block
	for _, b := range blocks {
		src, err := generate(b)
		if err != nil {
			t.Error(err)
			continue
		}
		dir := pkgName(b.doc)
		if b.kind == kindFile {
			dir = fmt.Sprintf("%s_l%d", pkgName(b.doc), b.line)
		}
		write(filepath.Join(mod, dir, fmt.Sprintf("l%d.go", b.line)), src)
		t.Logf("%v: %s", b, [...]string{"complete file", "declarations", "statements"}[b.kind])
		if b.want != nil {
			programs = append(programs, "./"+dir)
			wants = append(wants, b)
		}
	}
	if t.Failed() {
		return
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // a hang guard only
	defer cancel()
	if out, err := goCommand(ctx, t, mod, work, "vet", "./...").CombinedOutput(); err != nil {
		t.Fatalf("go vet of the documentation's code blocks: %v\n%s", err, readable(out))
	}
	for i, dir := range programs {
		var stdout, stderr bytes.Buffer
		cmd := goCommand(ctx, t, mod, work, "run", dir)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v: go run: %v\n%s", wants[i], err, readable(stderr.Bytes()))
			continue
		}
		got := strings.TrimSpace(stdout.String())
		want := strings.TrimSpace(strings.Join(wants[i].want, "\n"))
		if got != want {
			t.Errorf("%v: the program printed\n%s\nwant (its // Output: comment)\n%s", wants[i], got, want)
		}
	}
}

var (
	linkRE   = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineRE = regexp.MustCompile("`[^`]*`")
)

// headingSlugs returns the GitHub anchors of a Markdown file's headings.
func headingSlugs(data []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := ""
	for _, l := range strings.Split(string(data), "\n") {
		if m := fenceRE.FindStringSubmatch(l); m != nil {
			switch {
			case inFence == "":
				inFence = m[2]
			case strings.HasPrefix(m[2], inFence):
				inFence = ""
			}
			continue
		}
		if inFence != "" || !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(l, "#"))
		slug := slugify(text)
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// slugify is GitHub's heading anchor: lower case, spaces to hyphens, and
// everything but letters, digits, hyphens and underscores removed.
func slugify(heading string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			sb.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func TestLinks(t *testing.T) {
	checked := 0
	for _, doc := range documents(t) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		inFence := ""
		for i, l := range strings.Split(string(data), "\n") {
			if m := fenceRE.FindStringSubmatch(l); m != nil {
				switch {
				case inFence == "":
					inFence = m[2]
				case strings.HasPrefix(m[2], inFence):
					inFence = ""
				}
				continue
			}
			if inFence != "" {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(inlineRE.ReplaceAllString(l, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				where := fmt.Sprintf("%s:%d: link %q", relPath(doc), i+1, target)
				file, anchor, _ := strings.Cut(target, "#")
				path := doc
				if file != "" {
					path = filepath.Join(filepath.Dir(doc), filepath.FromSlash(file))
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s: %v", where, err)
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(path, ".md") {
					continue
				}
				body, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if !headingSlugs(body)[anchor] {
					t.Errorf("%s: %s has no heading with anchor #%s", where, relPath(path), anchor)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the documents are missing or the parser is broken")
	}
}

// TestParseBlocks pins the block convention on a small document.
func TestParseBlocks(t *testing.T) {
	doc := "# T\n\n```go\npackage main\n\nfunc main() {\n\tprintln()\n\t// Output:\n\t// a\n\t//  b\n}\n```\n\n" +
		"- item\n\n  ```go\n  type X int\n  ```\n\n```go\n// given: c *dispersy.Community\nx := c\n_ = x\n```\n\n```sh\ngo test\n```\n"
	bs, err := parseBlocks("/d/t.md", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		line  int
		kind  blockKind
		given string
		want  []string
	}
	var got []summary
	for _, b := range bs {
		got = append(got, summary{b.line, b.kind, b.given, b.want})
	}
	want := []summary{
		{4, kindFile, "", []string{"a", " b"}},
		{17, kindDecls, "", nil},
		{21, kindStmts, "c *dispersy.Community", nil},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parseBlocks:\ngot  %v\nwant %v", got, want)
	}
	if bs[1].src != "type X int\n" {
		t.Errorf("indented block: src %q, want the indentation removed", bs[1].src)
	}
	if _, err := parseBlocks("/d/t.md", []byte("```go\nx := 1\n")); err == nil {
		t.Error("an unclosed block parsed without error")
	}
	src, err := generate(bs[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`import "github.com/dispersy-go/dispersy/dispersy"`, "func _(c *dispersy.Community) error {", "//line /d/t.md:21\n", "return nil\n}"} {
		if !strings.Contains(string(src), s) {
			t.Errorf("generated statement file lacks %q:\n%s", s, src)
		}
	}
	if got := slugify("Running a node: `udp.Listen`, `database.Open`"); got != "running-a-node-udplisten-databaseopen" {
		t.Errorf("slugify = %q", got)
	}
}

// TestContents checks every document that has a "## Contents" section: its
// list must link every other second-level heading of the document, in
// order, so that sections others append do not go missing from it.
func TestContents(t *testing.T) {
	found := 0
	for _, doc := range documents(t) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var headings, listed []string
		inContents, hasContents := false, false
		inFence := ""
		for _, l := range strings.Split(string(data), "\n") {
			if m := fenceRE.FindStringSubmatch(l); m != nil {
				switch {
				case inFence == "":
					inFence = m[2]
				case strings.HasPrefix(m[2], inFence):
					inFence = ""
				}
				continue
			}
			if inFence != "" {
				continue
			}
			if h, ok := strings.CutPrefix(l, "## "); ok {
				h = strings.TrimSpace(h)
				inContents = h == "Contents"
				if inContents {
					hasContents = true
				} else {
					headings = append(headings, "#"+slugify(strings.ReplaceAll(h, "`", "")))
				}
				continue
			}
			if inContents && strings.HasPrefix(strings.TrimSpace(l), "- [") {
				if m := linkRE.FindStringSubmatch(l); m != nil {
					listed = append(listed, m[1])
				}
			}
		}
		if !hasContents {
			continue
		}
		found++
		if !slices.Equal(listed, headings) {
			t.Errorf("%s: the Contents list links\n\t%v\nbut the sections are\n\t%v\nadd a line \"- [Title](#anchor)\" per section, in order",
				relPath(doc), listed, headings)
		}
	}
	if found == 0 {
		t.Fatal("no document has a Contents section: the documents are missing or the parser is broken")
	}
}
