package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mappedRSS is the resident size of this process's mappings of path, in
// bytes, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && f[len(f)-1] == path
		case in && len(f) == 3 && f[0] == "Rss:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	return total
}

func TestStoreReleaseMappedPages(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	// 40 targets' records: about 700 KB of pages, compressed.
	for i := range 40 {
		if err := s.Commit(&Round{Target: fmt.Sprintf("bmc%d", i), Time: storeT0.Add(time.Duration(i)), Record: bigRecord(800)}); err != nil {
			t.Fatal(err)
		}
	}
	// Read every page through the mapping, as commits and history reads do.
	touch := func() {
		if err := s.view(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				return b.ForEachBucket(func(k []byte) error {
					v := b.Bucket(k).Get([]byte(targetRecordKey))
					_ = bytes.Count(v, []byte{0}) // reads every byte
					return nil
				})
			})
		}); err != nil {
			t.Fatal(err)
		}
	}
	touch()
	before := mappedRSS(t, s.Path())
	if before < 512<<10 {
		t.Fatalf("after reading every record, %d bytes of %s are resident: the test reads too little", before, s.Path())
	}
	if err := s.ReleaseMappedPages(); err != nil {
		t.Fatal(err)
	}
	after := mappedRSS(t, s.Path())
	t.Logf("mapped and resident: %d KB before, %d KB after", before>>10, after>>10)
	if after > before/10 {
		t.Errorf("after ReleaseMappedPages %d KB of the store stay resident (%d KB before)", after>>10, before>>10)
	}
	// The store reads on as before.
	touch()
	if rec, err := s.LoadTarget("bmc7"); err != nil || !bytes.Equal(rec, bigRecord(800)) {
		t.Errorf("LoadTarget after release: %d bytes, %v", len(rec), err)
	}
}
