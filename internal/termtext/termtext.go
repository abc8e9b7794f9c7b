// Package termtext is the rule for text that reaches an operator's
// terminal: strings read from a store (workspace names, IDs, reasons) may
// hold control, format or bidi characters, and are shown quoted when they
// do.
package termtext

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Safe reports whether c may be written to a terminal as it is.
func Safe(c rune) bool { return c != utf8.RuneError && unicode.IsPrint(c) }

// Show returns s for a line of text: as it is when every character is
// Safe and no space begins or ends it (or s is empty), else Go-quoted
// ("acme\n", " acme", "acme\u202e"), so that a look-alike is visibly not
// the name it imitates and a stored newline cannot forge a line.
func Show(s string) string {
	if s == "" {
		return s
	}
	plain := true
	for _, c := range s {
		if !Safe(c) {
			plain = false
			break
		}
	}
	if plain {
		first, _ := utf8.DecodeRuneInString(s)
		last, _ := utf8.DecodeLastRuneInString(s)
		plain = !unicode.IsSpace(first) && !unicode.IsSpace(last)
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}
