package main

import (
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/cdrvault/cdrvault/internal/termtext"
)

// Everything cdradmin prints goes through one rule, termSafe: a character
// that is not printable (a control, format or bidi character, an ANSI
// escape, an invalid byte) never reaches the terminal as it is. Strings
// read from the store (workspace names, IDs, reasons, URLs) may hold any
// of them, and a name such as "acme\u202e" or "\x1b[2J" would otherwise
// repaint the operator's screen or pass for another.

// termSafe reports whether c may be written to a terminal as it is.
func termSafe(c rune) bool { return termtext.Safe(c) }

// show returns s for a line of text (see termtext.Show).
func show(s string) string { return termtext.Show(s) }

// termWriter guards a stream (stdout, stderr): every character that is not
// termSafe, other than the newlines and tabs that lay out the output, is
// written as a \uXXXX escape (a UTF-16 surrogate pair beyond the BMP, and
// \ufffd for an invalid byte). Such characters occur in JSON output only
// inside strings, where the escape means the same character, so JSON
// stays valid and equal; in text they become visible. A rune split
// between two writes is held back until the next.
type termWriter struct {
	w       io.Writer
	pending []byte
	buf     []byte
}

func newTermWriter(w io.Writer) *termWriter { return &termWriter{w: w} }

func (t *termWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(t.pending) > 0 {
		p = append(t.pending, p...)
		t.pending = nil
	}
	out := t.buf[:0]
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f || c == '\n' || c == '\t' {
				out = append(out, c)
			} else {
				out = fmt.Appendf(out, `\u%04x`, c)
			}
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			t.pending = append([]byte(nil), p[i:]...)
			break
		}
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case termSafe(r):
			out = append(out, p[i:i+size]...)
		case r > 0xffff:
			hi, lo := utf16Pair(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	t.buf = out
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

func utf16Pair(r rune) (hi, lo rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
