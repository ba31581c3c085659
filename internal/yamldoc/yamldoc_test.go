package yamldoc

import "testing"

func TestRoot(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		msg        string
	}{
		{"empty", "", 0, "empty policy (hint)"},
		{"comment only", "# nothing\n", 0, "empty policy (hint)"},
		{"two documents", "a: 1\n---\nb: 2\n", 2, "a second YAML document (after ---): the policy is one document"},
		{"tab indent", "a:\n\tb: 1\n", 2, "found character that cannot start any token (a tab in the indentation: YAML indents with spaces only)"},
		{"bad mapping", "a: 1\n b: 2\n", 2, "mapping values are not allowed in this context"},
	}
	for _, tt := range tests {
		root, err := Root([]byte(tt.data), "policy", "hint")
		if err == nil || root != nil || err.Line != tt.line || err.Msg != tt.msg {
			t.Errorf("%s: %v %v; want line %d %q", tt.name, root, err, tt.line, tt.msg)
		}
	}
	root, err := Root([]byte("a: 1\n"), "policy", "hint")
	if err != nil || root == nil || len(root.Content) != 2 || root.Content[1].Value != "1" {
		t.Errorf("a mapping: %v %v", root, err)
	}
}
