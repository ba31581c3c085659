package ipmi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// sdrCacheMaxAgeUntimed bounds how long a cache of a repository that
// reports no timestamps (both 0, as some BMCs do) is trusted: without
// timestamps a change is only visible in the record count.
const sdrCacheMaxAgeUntimed = time.Hour

// fruCacheMaxAge bounds how long FRU inventory is reused: a replaced part
// does not always change the SDR repository.
const fruCacheMaxAge = 24 * time.Hour

// sdrCache is one BMC's cached SDR repository and FRU data. It is keyed by
// the repository's record count and most-recent addition and erase
// timestamps (IPMI v2.0 §33.9), which the BMC updates on every change, so
// a cache never outlives the repository it copies: a replaced sensor board
// gets its new records, and a replaced part never inherits stale ones.
type sdrCache struct {
	Target       string            `json:"target"`
	RecordCount  uint16            `json:"record_count"`
	LastAddition uint32            `json:"last_addition"`
	LastErase    uint32            `json:"last_erase"`
	ReadAt       time.Time         `json:"read_at"`
	Records      []string          `json:"records"` // hex, as read
	FRU          map[string]string `json:"fru,omitempty"`
	FRUReadAt    time.Time         `json:"fru_read_at,omitzero"`
}

// matches reports whether the cache copies the repository info describes.
func (c *sdrCache) matches(info sdrRepositoryInfo, now time.Time) bool {
	if c == nil || c.RecordCount != info.RecordCount || c.LastAddition != info.LastAddition || c.LastErase != info.LastErase {
		return false
	}
	if info.LastAddition == 0 && info.LastErase == 0 {
		return now.Sub(c.ReadAt) < sdrCacheMaxAgeUntimed
	}
	return true
}

func (c *sdrCache) records() ([][]byte, error) {
	out := make([][]byte, 0, len(c.Records))
	for i, h := range c.Records {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func newSDRCache(target string, info sdrRepositoryInfo, recs [][]byte, now time.Time) *sdrCache {
	c := &sdrCache{Target: target, RecordCount: info.RecordCount, LastAddition: info.LastAddition, LastErase: info.LastErase, ReadAt: now}
	for _, r := range recs {
		c.Records = append(c.Records, hex.EncodeToString(r))
	}
	return c
}

// sdrCachePath names the cache file of a target inside dir.
func sdrCachePath(dir, target string) string {
	sum := sha256.Sum256([]byte(target))
	return filepath.Join(dir, "sdr-"+hex.EncodeToString(sum[:8])+".json")
}

// loadSDRCache reads a target's cache; a missing file is (nil, nil).
func loadSDRCache(dir, target string) (*sdrCache, error) {
	b, err := os.ReadFile(sdrCachePath(dir, target))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c sdrCache
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", sdrCachePath(dir, target), err)
	}
	if c.Target != target {
		return nil, nil
	}
	return &c, nil
}

// saveSDRCache writes the cache atomically (temp file + rename), so a
// crash or a concurrent scan never leaves a half-written cache.
func saveSDRCache(dir string, c *sdrCache) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".sdr-*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), sdrCachePath(dir, c.Target))
}
