package smartvm

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// cpioWriter writes the "newc" (SVR4, no CRC) cpio format the kernel
// unpacks as an initramfs. Writing it in Go spares the cpio(1) dependency
// and lets an unprivileged host create device nodes (/dev/console) in the
// archive. Parent directories are emitted before their first entry, because
// the kernel's unpacker does not create them.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1, dirs: map[string]bool{".": true, "": true}}
}

// cpio mode bits (octal, as in <sys/stat.h>).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

// File adds a regular file with the given permission bits.
func (c *cpioWriter) File(name string, perm fs.FileMode, data []byte) {
	c.parents(name)
	c.entry(name, cpioRegular|uint32(perm.Perm()), 1, 0, 0, data)
}

// Dir adds a directory (and its parents).
func (c *cpioWriter) Dir(name string) {
	name = clean(name)
	if c.dirs[name] {
		return
	}
	c.parents(name)
	c.dirs[name] = true
	c.entry(name, cpioDir|0o755, 2, 0, 0, nil)
}

// Symlink adds a symbolic link name -> target.
func (c *cpioWriter) Symlink(name, target string) {
	c.parents(name)
	c.entry(name, cpioSymlink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) {
	c.parents(name)
	c.entry(name, cpioChar|uint32(perm.Perm()), 1, major, minor, nil)
}

// Close writes the trailer and flushes; it returns the first error seen.
func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, 1, 0, 0, nil)
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}

func (c *cpioWriter) parents(name string) {
	if dir := path.Dir(clean(name)); !c.dirs[dir] {
		c.Dir(dir)
	}
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (c *cpioWriter) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) {
	if c.err != nil {
		return
	}
	if name != "TRAILER!!!" {
		name = clean(name)
	}
	c.ino++
	// 13 eight-digit hex fields: ino mode uid gid nlink mtime filesize
	// devmajor devminor rdevmajor rdevminor namesize check. mtime 0 keeps
	// the archive reproducible.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad aligns to 4 bytes, as newc requires after the name and the data.
func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
