package agent

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// ReleaseMappedPages drops this process's mappings of the store file's
// pages (madvise MADV_DONTNEED on bbolt's read-only shared mapping). bbolt
// reads the file through mmap, so every page a round's commits walk stays
// in the agent's RSS until the kernel needs the memory: tens of MB for a
// few hundred targets, more than the heap saves elsewhere. The pages stay
// in the page cache; the next access maps them again (a minor fault).
// The agent calls it after each round.
func (s *Store) ReleaseMappedPages() error {
	err := s.view(func(tx *bolt.Tx) error {
		// A read transaction holds bbolt's mmap lock: the mapping can
		// neither move nor be unmapped while it is advised. tx.Size (the
		// file's pages as of this transaction) never exceeds the mapping.
		info := s.db.Info()
		// The raw syscall takes the address as it comes (a uintptr): no
		// pointer is rebuilt from it.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(tx.Size()), unix.MADV_DONTNEED); errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %s: releasing mapped pages: %w", s.path, err)
	}
	return nil
}
