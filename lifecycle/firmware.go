package lifecycle

import (
	"strings"
	"unicode"
)

// compareVersions compares two firmware versions number by number:
// "1.10" is newer than "1.9", "P79 v1.95" than "P79 v1.45". Versions are
// split into runs of digits and of other characters; they compare only
// when their other characters agree run for run (case aside) over the
// length of the shorter, otherwise ok is false: "0x42a0" and "0x4299", or
// "A1" and "1.0", say nothing of which is newer. A version that extends
// the other is newer ("1.2.1" than "1.2").
func compareVersions(a, b string) (c int, ok bool) {
	const maxTokens = 64
	// The shapes first: a difference of numbers before a difference of
	// shape must not decide.
	x, y := a, b
	for n := 0; x != "" && y != ""; n++ {
		tx, rx, dx := nextToken(x)
		ty, ry, dy := nextToken(y)
		if n >= maxTokens || dx != dy || (!dx && !strings.EqualFold(tx, ty)) {
			return 0, false
		}
		x, y = rx, ry
	}
	// One extends the other: only by a separator ("1.2" and "1.2.1"),
	// not by letters that continue its last number ("0x42" and "0x42a0").
	if rest := x + y; rest != "" {
		if tok, _, digits := nextToken(rest); digits || strings.IndexFunc(tok, unicode.IsLetter) >= 0 {
			return 0, false
		}
	}
	for a != "" && b != "" {
		ta, ra, da := nextToken(a)
		tb, rb, _ := nextToken(b)
		if da {
			if c := compareDigits(ta, tb); c != 0 {
				return c, true
			}
		}
		a, b = ra, rb
	}
	switch {
	case a == "" && b == "":
		return 0, true
	case a == "":
		return -1, true
	default:
		return 1, true
	}
}

// nextToken splits off the leading run of digits (digits true) or of
// other characters.
func nextToken(s string) (tok, rest string, digits bool) {
	digits = isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digits {
		i++
	}
	return s[:i], s[i:], digits
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// compareDigits compares two runs of digits as numbers of any length.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// naturalCompare orders names with numbers in them as people do: "Bay 2"
// before "Bay 10". Names equal that way (leading zeros) fall back to
// their bytes, so the order is total.
func naturalCompare(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		tx, rx, dx := nextToken(x)
		ty, ry, dy := nextToken(y)
		var c int
		switch {
		case dx && dy:
			c = compareDigits(tx, ty)
		case dx != dy:
			c = strings.Compare(x, y)
		default:
			c = strings.Compare(tx, ty)
		}
		if c != 0 {
			return c
		}
		x, y = rx, ry
	}
	if c := strings.Compare(x, y); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
