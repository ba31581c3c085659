// Package sequentialtest checks that a package runs on one goroutine, for
// the packages .ci/run tests without the race detector.
//
// The race detector finds races only where goroutines share memory. A
// package that starts none and imports no synchronization gains nothing
// from it but a five- to tenfold slowdown (the detector package: 7 s
// plain, 63 s under -race). .ci/run names those packages; each calls
// [Require] from a test, so that the day one of them starts a goroutine
// its test fails and says to move it back under -race. Tests may still
// call t.Parallel: each builds its own values, and parallel tests share
// only read-only package data, so a race there could only be between two
// tests, not in the package.
package sequentialtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// isConcurrencyImport says whether importing path means the code shares
// memory between goroutines (or is about to).
func isConcurrencyImport(path string) bool {
	switch path {
	case "sync", "sync/atomic", "golang.org/x/sync/errgroup", "golang.org/x/sync/semaphore", "golang.org/x/sync/singleflight":
		return true
	}
	return false
}

// Require fails t if any Go file of the package in the current directory
// (the package under test, tests included) has a go statement or imports a
// synchronization package.
func Require(t testing.TB) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("sequentialtest: no Go files in the current directory (%v)", err)
	}
	for _, problem := range Check(files) {
		t.Errorf("%s: the package is tested without -race in .ci/run because it runs on one goroutine; "+
			"move it back to the race-tested packages there, or remove this", problem)
	}
}

// Check returns, for each file, every go statement and synchronization
// import, as "file:line: what"; and a file that does not parse.
func Check(files []string) []string {
	var problems []string
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); isConcurrencyImport(path) {
				problems = append(problems, fset.Position(imp.Pos()).String()+": imports "+path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				problems = append(problems, fset.Position(g.Pos()).String()+": go statement")
			}
			return true
		})
	}
	return problems
}
