package agent

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// bigRecord is a record shaped like a detector's state: many components,
// the same keys again and again.
func bigRecord(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":1,"detector":{"components":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"ref":{"target":"https://bmc1","kind":"fan","id":"/redfish/v1/Chassis/1/Thermal#/Fans/%d"},"health":"OK","series":{"speed":{"width":3600000000000,"buckets":[{"start":%d,"n":12,"sum":%d}]}}}`, i, 1700000000+i*3600, 5400*12+i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func TestStoreRecordCompressed(t *testing.T) {
	s := openTestStore(t, t.TempDir(), withoutSync())
	rec := bigRecord(300)
	if err := s.Commit(&Round{Target: "bmc1", Time: storeT0, Record: rec}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadTarget("bmc1")
	if err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("LoadTarget: %d bytes (want %d), %v", len(got), len(rec), err)
	}
	var stored int
	_ = s.view(func(tx *bolt.Tx) error {
		v := targetBucket(tx, "bmc1").Get([]byte(targetRecordKey))
		stored = len(v)
		if len(v) == 0 || v[0] != recordS2 {
			t.Errorf("stored record starts %q, want the s2 mark", v[:min(len(v), 8)])
		}
		return nil
	})
	if stored*3 > len(rec) {
		t.Errorf("record of %d bytes stored in %d: less than 3x smaller", len(rec), stored)
	}

	// A record written before compression (plain JSON) still loads.
	plain := []byte(`{"version":1}`)
	if err := s.update(func(tx *bolt.Tx) error {
		return targetBucket(tx, "bmc1").Put([]byte(targetRecordKey), plain)
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadTarget("bmc1"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("plain record: %q, %v", got, err)
	}

	// A damaged one is an error naming the store and the target.
	if err := s.update(func(tx *bolt.Tx) error {
		return targetBucket(tx, "bmc1").Put([]byte(targetRecordKey), []byte{recordS2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2})
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.LoadTarget("bmc1")
	if err == nil || !strings.Contains(err.Error(), s.Path()) || !strings.Contains(err.Error(), "bmc1") {
		t.Errorf("damaged record: %v, want an error naming %s and bmc1", err, s.Path())
	}
}

func FuzzStoreRecord(f *testing.F) {
	f.Add(encodeRecord(bigRecord(3)))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte{recordS2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Add([]byte{recordS2})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRecord(data)
		if err != nil {
			return
		}
		if len(rec) > maxRecordBytes {
			t.Fatalf("decoded %d bytes", len(rec))
		}
		back, err := decodeRecord(encodeRecord(rec))
		if err != nil || !bytes.Equal(back, rec) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(rec), len(back), err)
		}
	})
}
