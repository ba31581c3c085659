package termtext

import "testing"

func TestCell(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Fan 1", 10, "Fan 1"},
		{"a\tb\n\nc", 10, "a b c"},
		{"\x1b[31mred\x1b[0m", 20, "[31mred [0m"},
		{"right\u202eleft", 20, "right?left"},
		{"  lead", 10, "lead"},
		{"abcdefgh", 4, "abcd..."},
	}
	for _, tt := range tests {
		if got := Cell(tt.in, tt.max); got != tt.want {
			t.Errorf("Cell(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
