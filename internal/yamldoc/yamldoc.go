// Package yamldoc parses one YAML document into its root node with errors
// a person can act on (line, column, the tab that broke the indentation),
// for the project's YAML files: the agent's configuration and the
// lifecycle refresh policy. Each caller wraps Error in its own error type,
// with the file's name.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a position in the document (0: unknown) and what is wrong there.
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// Root parses data as exactly one YAML document and returns its root
// node. what names the document in messages ("configuration", "policy");
// emptyHint is said of an empty one. A parser panic is an error like any
// other: a file must never crash the program reading it.
func Root(data []byte, what, emptyHint string) (root *yaml.Node, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{Msg: fmt.Sprintf("YAML parser failed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "empty " + what + " (" + emptyHint + ")"}
		}
		return nil, parserError(data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, parserError(data, err)
	default:
		return nil, &Error{Line: next.Line, Column: next.Column,
			Msg: "a second YAML document (after ---): the " + what + " is one document"}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, &Error{Msg: "empty " + what}
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// parserError turns "yaml: line 3: did not find expected key" into line 3,
// "did not find expected key", and says so when the line is indented
// with a tab.
func parserError(data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, e.Msg = n, tail
			}
		}
	}
	e.Msg = strings.ReplaceAll(e.Msg, "\n", " ")
	if e.Line > 0 {
		lines := bytes.Split(data, []byte("\n"))
		if e.Line <= len(lines) {
			l := lines[e.Line-1]
			if bytes.IndexByte(l[:len(l)-len(bytes.TrimLeft(l, " \t"))], '\t') >= 0 {
				e.Msg += " (a tab in the indentation: YAML indents with spaces only)"
			}
		}
	}
	return e
}
