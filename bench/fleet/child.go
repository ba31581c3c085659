package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// scanner runs prefail scan as a child process.
type scanner struct {
	bin     string
	dir     string
	stderr  io.Writer
	timeout time.Duration
	extra   []string
}

// scanResult is what one child run gave.
type scanResult struct {
	wall      time.Duration
	first     time.Duration // until the first target's output
	targets   int
	failed    int
	form      string // "JSON Lines" or "document"
	exitCode  int
	rssMB     float64
	user, sys time.Duration
}

// maxStderr bounds the child's stderr kept for an error message.
const maxStderr = 16 << 10

// scan runs prefail scan --targets file --json (--concurrency c when c >
// 0) and reads its output line by line as it comes.
func (s scanner) scan(ctx context.Context, file string, c int) (scanResult, error) {
	args := []string{"scan", "--targets", file, "--json"}
	if c > 0 {
		args = append(args, "--concurrency", strconv.Itoa(c))
	}
	if s.timeout > 0 {
		args = append(args, "--timeout", s.timeout.String())
	}
	args = append(args, s.extra...)
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), "PREFAIL_USERNAME="+redfishmock.DefaultUser, "PREFAIL_PASSWORD="+redfishmock.DefaultPassword)
	var errBuf limitedBuffer
	errBuf.max = maxStderr
	cmd.Stderr = &errBuf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return scanResult{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return scanResult{}, fmt.Errorf("starting %s: %w", s.bin, err)
	}
	var first time.Duration
	count, cerr := countTargets(out, func() {
		if first == 0 {
			first = time.Since(start)
		}
	})
	werr := cmd.Wait()
	wall := time.Since(start)
	res := scanResult{wall: wall, first: first, targets: count.targets, failed: count.failed, form: count.form}
	if st := cmd.ProcessState; st != nil {
		res.exitCode = st.ExitCode()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			res.rssMB = float64(ru.Maxrss) * 1024 / 1e6 // Linux: kilobytes
			res.user = time.Duration(ru.Utime.Nano())
			res.sys = time.Duration(ru.Stime.Nano())
		}
	}
	if cerr != nil {
		return res, fmt.Errorf("reading prefail scan's output: %w (stderr: %s)", cerr, errBuf.String())
	}
	var ee *exec.ExitError
	if werr != nil && !(errors.As(werr, &ee) && ee.ExitCode() == 1) {
		// 1 is "some target failed": counted, reported, not fatal here.
		return res, fmt.Errorf("prefail scan: %w (stderr: %s)", werr, errBuf.String())
	}
	if res.failed > 0 && errBuf.Len() > 0 {
		fmt.Fprintf(s.stderr, "prefail scan stderr (first %d bytes):\n%s\n", maxStderr, errBuf.String())
	}
	return res, nil
}

// targetCount is what countTargets found.
type targetCount struct {
	targets, failed int
	form            string
}

// outputTarget is the part of a target's JSON that the bench reads, in
// both forms of prefail scan --json: one JSON object a line, one per
// target (JSON Lines), or one indented document with a "targets" array.
type outputTarget struct {
	Target string `json:"target"`
	Error  string `json:"error"`
}

// countTargets reads the output of prefail scan --json line by line. A
// line that is a whole JSON object with a "target" is one target (JSON
// Lines: seen is called as it arrives); any other line belongs to a
// document, decoded at the end. Bad output is an error, never a panic.
func countTargets(r io.Reader, seen func()) (targetCount, error) {
	var (
		c   targetCount
		doc bytes.Buffer
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if t, ok := targetLine(line); ok {
				c.targets++
				if t.Error != "" {
					c.failed++
				}
				c.form = "JSON Lines"
				seen()
			} else if len(bytes.TrimSpace(line)) > 0 {
				if c.form == "JSON Lines" {
					return c, fmt.Errorf("line %d is not a target's JSON object: %q", lineNo, truncate(line, 80))
				}
				doc.Write(line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, err
		}
	}
	if doc.Len() == 0 {
		return c, nil
	}
	var d struct {
		Targets *[]outputTarget `json:"targets"`
	}
	if err := json.Unmarshal(doc.Bytes(), &d); err != nil {
		return c, fmt.Errorf("the output is neither JSON Lines nor one JSON document: %w", err)
	}
	if d.Targets == nil {
		return c, errors.New("the output document has no \"targets\" array")
	}
	c.form = "document"
	for _, t := range *d.Targets {
		c.targets++
		if t.Error != "" {
			c.failed++
		}
		seen()
	}
	return c, nil
}

// targetLine decodes a JSON Lines record: a whole JSON object on one line
// with a non-empty "target".
func targetLine(line []byte) (outputTarget, bool) {
	l := bytes.TrimSpace(line)
	if len(l) < 2 || l[0] != '{' || l[len(l)-1] != '}' {
		return outputTarget{}, false
	}
	if t, ok := targetLead(l); ok {
		return t, true
	}
	var t outputTarget
	if json.Unmarshal(l, &t) != nil || t.Target == "" {
		return outputTarget{}, false
	}
	return t, true
}

// targetLead reads "target" and "error" from the head of a record, where
// prefail puts them (schema_version, target, then error when the target
// failed; the snapshot, most of the line, comes last): decoding every
// line whole took a quarter of this process's CPU, which the scan
// measured on the same cores pays for. ok is false when the record does
// not start so.
func targetLead(l []byte) (outputTarget, bool) {
	dec := json.NewDecoder(bytes.NewReader(l))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return outputTarget{}, false
	}
	var t outputTarget
	for range 3 {
		tok, err := dec.Token()
		if err != nil {
			return outputTarget{}, false
		}
		key, _ := tok.(string)
		switch {
		case key == "schema_version" && t.Target == "":
			var v json.Number
			if dec.Decode(&v) != nil {
				return outputTarget{}, false
			}
		case key == "target" && t.Target == "":
			if dec.Decode(&t.Target) != nil || t.Target == "" {
				return outputTarget{}, false
			}
		case key == "error" && t.Target != "":
			if dec.Decode(&t.Error) != nil {
				return outputTarget{}, false
			}
			return t, true
		case t.Target != "":
			return t, true // no error: the target was scanned
		default:
			return outputTarget{}, false
		}
	}
	return outputTarget{}, false
}

func truncate(b []byte, n int) string {
	s := string(b)
	if len(s) > n {
		return s[:n] + "..."
	}
	return strings.TrimSpace(s)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
