// Package termtext makes text from a BMC safe to print in a terminal table.
package termtext

import (
	"strings"
	"unicode"
)

// Cell makes s safe for a terminal table: control, space and formatting
// characters (escape sequences, bidi overrides, tabs and newlines that
// would break the columns) become one space or '?', and the text is cut
// to max runes ("..." marks the cut).
func Cell(s string, max int) string {
	var b strings.Builder
	n := 0
	lastSpace := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			if !lastSpace && n > 0 {
				b.WriteByte(' ')
				n++
			}
			lastSpace = true
			continue
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		lastSpace = false
		if n >= max {
			b.WriteString("...")
			return b.String()
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimRight(b.String(), " ")
}
