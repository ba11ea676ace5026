package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// barWidth is the number of cells in the progress bar.
const barWidth = 30

// progress draws "[#####.....] 62/100 messages on all peers" on w: redrawn
// in place with \r on a terminal, as plain lines otherwise (at most one per
// plainEvery, and only when the count changed).
type progress struct {
	w          io.Writer
	tty        bool
	plainEvery time.Duration

	drawn    bool
	last     int
	lastLine time.Time
	width    int // length of the last line drawn on a terminal
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), plainEvery: time.Second, last: -1}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bar renders the line for done of total.
func bar(done, total int) string {
	filled := barWidth
	if total > 0 {
		filled = done * barWidth / total
	}
	filled = min(max(filled, 0), barWidth)
	return fmt.Sprintf("[%s%s] %d/%d messages on all peers",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total)
}

// update shows done of total at time now.
func (p *progress) update(now time.Time, done, total int) {
	if p.tty {
		if done == p.last {
			return
		}
		line := bar(done, total)
		pad := max(p.width-len(line), 0)
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
		p.width = len(line)
		p.last, p.drawn = done, true
		return
	}
	if done == p.last || (p.drawn && now.Sub(p.lastLine) < p.plainEvery && done != total) {
		return
	}
	fmt.Fprintln(p.w, bar(done, total))
	p.last, p.drawn, p.lastLine = done, true, now
}

// finish ends the progress display (a newline after an in-place bar).
func (p *progress) finish() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
	p.drawn = false
}
