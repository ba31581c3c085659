package smartvm

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// host is what Run takes from the machine it runs on.
type host struct {
	// Host paths of the commands Run uses or copies into the guest.
	qemu, busybox, smartctl, nvme, sgLogs, ldd string

	kernel  string // /boot/vmlinuz-<release>
	release string // kernel release, also the /lib/modules/<release> name
	modDir  string
	drivedb string // "" when smartmontools ships none
	qboot   string // "" when QEMU ships no qboot.rom
}

// tool is a host command the VM needs, with the Debian package that has it.
type tool struct{ name, pkg string }

// guestTools are copied into every guest's /bin (with their libraries).
// sg_logs is here because the scsi_debug disk's LOG SENSE pages are read
// with it; the whole set is fixed so every test sees the same guest.
func guestTools() []tool {
	return []tool{
		{"smartctl", "smartmontools"},
		{"nvme", "nvme-cli"},
		{"sg_logs", "sg3-utils"},
	}
}

// searchDirs are tried after $PATH: smartctl and nvme live in /usr/sbin,
// which a test's $PATH often lacks.
const searchDirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range filepath.SplitList(searchDirs) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s not found in $PATH or %s", name, searchDirs)
}

func missing(what, pkg string, err error) error {
	return fmt.Errorf("%s: %w (apt-get install %s)", what, err, pkg)
}

// Check reports everything Run needs that this machine lacks, one error per
// missing piece, each naming the Debian package to install. A nil result
// means Run can build and boot the VM. Tests should t.Fatal on an error
// (not skip): CI installs these packages, so a missing one is a CI bug.
func Check() error {
	h, err := findHost()
	if err != nil {
		return err
	}
	// Resolve the largest module set a Config can ask for, so a kernel
	// without scsi_debug (or without an xz for its modules) shows up here.
	mods, err := resolveModules(h, wantedModules(true))
	if err != nil {
		return err
	}
	return checkDecompressors(mods)
}

func findHost() (*host, error) {
	var errs []error
	h := &host{}
	var err error
	if h.qemu, err = lookTool("qemu-system-x86_64"); err != nil {
		errs = append(errs, missing("qemu-system-x86_64", "qemu-system-x86", err))
	}
	if h.busybox, err = findStaticBusybox(); err != nil {
		errs = append(errs, missing("static busybox", "busybox-static", err))
	}
	for _, t := range guestTools() {
		p, err := lookTool(t.name)
		if err != nil {
			errs = append(errs, missing(t.name, t.pkg, err))
			continue
		}
		switch t.name {
		case "smartctl":
			h.smartctl = p
		case "nvme":
			h.nvme = p
		case "sg_logs":
			h.sgLogs = p
		}
	}
	// ldd lists the shared libraries to copy next to smartctl and friends.
	if h.ldd, err = lookTool("ldd"); err != nil {
		errs = append(errs, missing("ldd", "libc-bin", err))
	}
	if err := findKernel(h); err != nil {
		errs = append(errs, err)
	}
	if p := "/usr/share/smartmontools/drivedb.h"; fileExists(p) {
		h.drivedb = p
	}
	if p := "/usr/share/qemu/qboot.rom"; fileExists(p) {
		h.qboot = p
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("smartvm: this machine cannot run the SMART VM:\n%w", errors.Join(errs...))
	}
	return h, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// findStaticBusybox wants a statically linked busybox: it is the guest's
// /init interpreter and runs before any library is in place.
func findStaticBusybox() (string, error) {
	var cands []string
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/usr/lib/initramfs-tools/bin/busybox"} {
		if fileExists(p) {
			cands = append(cands, p)
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		cands = append([]string{p}, cands...)
	}
	if len(cands) == 0 {
		return "", errors.New("no busybox found")
	}
	for _, p := range cands {
		if static, err := isStatic(p); err == nil && static {
			return p, nil
		}
	}
	return "", fmt.Errorf("busybox at %s is dynamically linked", strings.Join(cands, ", "))
}

// isStatic reports whether an ELF file has no program interpreter.
func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// findKernel picks an installed kernel: one with both /boot/vmlinuz-<r>
// and /lib/modules/<r>/modules.dep. The running kernel wins if it
// qualifies (the host may run a kernel with no image in /boot, e.g. in a
// container), otherwise the newest release.
func findKernel(h *host) error {
	images, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(images) == 0 {
		return missing("kernel image /boot/vmlinuz-*", "linux-image-cloud-amd64", errors.New("none installed"))
	}
	var ok []string
	var problems []string
	for _, img := range images {
		r := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		dep := filepath.Join("/lib/modules", r, "modules.dep")
		if !fileExists(dep) {
			problems = append(problems, fmt.Sprintf("%s has no %s", img, dep))
			continue
		}
		f, err := os.Open(img)
		if err != nil {
			problems = append(problems, fmt.Sprintf("cannot read %s: %v", img, err))
			continue
		}
		f.Close()
		ok = append(ok, r)
	}
	if len(ok) == 0 {
		return missing("a kernel image with its modules", "linux-image-cloud-amd64",
			errors.New(strings.Join(problems, "; ")))
	}
	running, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r := strings.TrimSpace(string(running))
	if !slices.Contains(ok, r) {
		slices.SortFunc(ok, compareRelease)
		r = ok[len(ok)-1]
	}
	h.release = r
	h.kernel = "/boot/vmlinuz-" + r
	h.modDir = filepath.Join("/lib/modules", r)
	return nil
}

// compareRelease orders kernel releases by their numeric fields
// ("6.1.0-57-cloud-amd64" < "6.1.0-100-cloud-amd64").
func compareRelease(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' })
	}
	fa, fb := split(a), split(b)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, ea := strconv.Atoi(fa[i])
		nb, eb := strconv.Atoi(fb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na - nb
			}
			continue
		}
		if c := strings.Compare(fa[i], fb[i]); c != 0 {
			return c
		}
	}
	return len(fa) - len(fb)
}

// module is one kernel module to load, in load order.
type module struct {
	name string // normalized: dashes as underscores
	path string // absolute, possibly .ko.xz / .ko.zst / .ko.gz
}

// wantedModules are the drivers the guest loads (NVMe is usually built
// in; when it is a module it is loaded too).
func wantedModules(scsiDebug bool) []string {
	m := []string{"ata_piix", "sd_mod", "sg", "nvme"}
	if scsiDebug {
		m = append(m, "scsi_debug")
	}
	return m
}

func modName(p string) string {
	b := filepath.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// resolveModules returns the modules (with their dependencies from
// modules.dep, dependencies first) that load the wanted drivers; a wanted
// driver listed in modules.builtin needs nothing.
func resolveModules(h *host, wanted []string) ([]module, error) {
	deps, paths, err := readModulesDep(filepath.Join(h.modDir, "modules.dep"), h.modDir)
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(h.modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[modName(l)] = true
		}
	}
	var order []module
	seen := map[string]bool{}
	var visit func(name string, stack []string) error
	visit = func(name string, stack []string) error {
		if seen[name] {
			return nil
		}
		if slices.Contains(stack, name) {
			return fmt.Errorf("smartvm: module dependency cycle in %s/modules.dep: %s", h.modDir, strings.Join(append(stack, name), " -> "))
		}
		for _, d := range deps[name] {
			if err := visit(d, append(stack, name)); err != nil {
				return err
			}
		}
		seen[name] = true
		order = append(order, module{name: name, path: paths[name]})
		return nil
	}
	for _, w := range wanted {
		if _, ok := paths[w]; !ok {
			if builtin[w] {
				continue
			}
			return nil, fmt.Errorf("smartvm: kernel %s has no module %s (neither in %s/modules.dep nor modules.builtin); install a kernel that has it, e.g. apt-get install linux-image-cloud-amd64", h.release, w, h.modDir)
		}
		if err := visit(w, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// readModulesDep parses "kernel/x/a.ko: kernel/y/b.ko kernel/z/c.ko".
func readModulesDep(file, modDir string) (deps map[string][]string, paths map[string]string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("smartvm: reading the kernel's module list: %w", err)
	}
	deps, paths = map[string][]string{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n := modName(mod)
		p := mod
		if !filepath.IsAbs(p) {
			p = filepath.Join(modDir, p)
		}
		paths[n] = p
		for _, d := range strings.Fields(rest) {
			deps[n] = append(deps[n], modName(d))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("smartvm: reading %s: %w", file, err)
	}
	return deps, paths, nil
}

// checkDecompressors: .ko.xz and .ko.zst are unpacked on the host (the
// guest's insmod is busybox's, which cannot read zstd), by xz and zstd.
func checkDecompressors(mods []module) error {
	var errs []error
	need := map[string]string{}
	for _, m := range mods {
		switch {
		case strings.HasSuffix(m.path, ".ko.xz"):
			need["xz"] = "xz-utils"
		case strings.HasSuffix(m.path, ".ko.zst"):
			need["zstd"] = "zstd"
		}
	}
	for _, cmd := range slices.Sorted(maps.Keys(need)) {
		if _, err := lookTool(cmd); err != nil {
			errs = append(errs, missing(cmd+" (the kernel's modules are compressed)", need[cmd], err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("smartvm: this machine cannot run the SMART VM:\n%w", errors.Join(errs...))
	}
	return nil
}

// moduleBytes reads a module file, decompressing it if needed.
func moduleBytes(ctx context.Context, m module) ([]byte, error) {
	var cmd *exec.Cmd
	switch {
	case strings.HasSuffix(m.path, ".ko"):
		return os.ReadFile(m.path)
	case strings.HasSuffix(m.path, ".ko.xz"):
		cmd = exec.CommandContext(ctx, "xz", "-dc", m.path)
	case strings.HasSuffix(m.path, ".ko.zst"):
		cmd = exec.CommandContext(ctx, "zstd", "-dcq", m.path)
	case strings.HasSuffix(m.path, ".ko.gz"):
		cmd = exec.CommandContext(ctx, "gzip", "-dc", m.path)
	default:
		return nil, fmt.Errorf("smartvm: module %s: unknown file type", m.path)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("smartvm: decompressing module %s with %s: %w: %s", m.path, cmd.Args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// sharedLibs lists the libraries (and the dynamic loader) a binary needs,
// as ldd resolves them on the host; none for a static binary.
func sharedLibs(ctx context.Context, ldd, bin string) ([]string, error) {
	static, err := isStatic(bin)
	if err != nil {
		return nil, fmt.Errorf("smartvm: %s is not an ELF executable: %w", bin, err)
	}
	if static {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, ldd, bin).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("smartvm: ldd %s: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && filepath.IsAbs(f[2]):
			libs = append(libs, f[2])
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("smartvm: %s needs %s, which ldd cannot find", bin, f[0])
		case len(f) >= 1 && filepath.IsAbs(f[0]):
			libs = append(libs, f[0]) // the dynamic loader
		}
	}
	return libs, nil
}
