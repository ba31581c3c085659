package agent

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzParseConfig: any input gives either errors, each naming the file,
// or a Config that validates; never a panic, never a file read outside
// the ones the fuzzer names (served from memory here).
func FuzzParseConfig(f *testing.F) {
	f.Add(SampleConfig())
	for _, tc := range cfgErrorCases() {
		f.Add([]byte(tc.yaml))
	}
	f.Add([]byte("targets: [https://bmc1]\ntargets_file: bmcs.txt\ndetector: detector.json\n"))
	f.Add([]byte("targets: [https://bmc1]\ndetector: {fan: {decline_watch: 0.1}, kinds: {fan: {bucket: 1h, history: 24, confirm: 2}}}\n"))
	f.Add([]byte("x-a: &a {username: ops}\ntargets: [{url: https://b, <<: *a}]\n"))
	files := map[string]string{
		"/etc/prefail/bmcs.txt":      "https://bmc2 username=ops password-file=p\nipmi://h cipher-suite=17\n",
		"/etc/prefail/detector.json": `{"watch": 0.3}`,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig("fuzz.yaml", "/etc/prefail", data, func(p string, _ int64) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		})
		if err != nil {
			if c != nil {
				t.Fatal("a config returned with an error")
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") && !strings.HasPrefix(line, "/etc/prefail/bmcs.txt") {
					t.Fatalf("an error line that names no file: %q", line)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("a parsed config does not validate: %v", err)
		}
		for i := range c.Targets {
			tc := &c.Targets[i]
			if tc.Endpoint() == "" || tc.Where == "" {
				t.Fatalf("target %d has no endpoint or origin: %+v", i, tc)
			}
			_ = c.Target(tc)
		}
	})
}
