//go:build !linux

package agent

// ReleaseMappedPages does nothing here: the RSS it trims is Linux's
// accounting of bbolt's file mapping (see store_mapped_linux.go).
func (s *Store) ReleaseMappedPages() error { return nil }
