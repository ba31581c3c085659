package smart

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkImportLinuxhw imports all 1,561 linuxhw smartctl -x text reports
// (one op = the whole set); BenchmarkImportJSON the 192 JSON captures.
func BenchmarkImportLinuxhw(b *testing.B) {
	benchImport(b, filepath.Join("..", "testdata", "smart", "linuxhw"))
}

func BenchmarkImportJSON(b *testing.B) {
	benchImport(b, filepath.Join("..", "testdata", "smart", "json"))
}

func benchImport(b *testing.B, root string) {
	var files [][]byte
	total := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) == ".csv" || filepath.Ext(p) == ".md" || d.Name() == "LICENSE" {
			return err
		}
		data, err := os.ReadFile(p)
		files = append(files, data)
		total += len(data)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			if r, err := ParseSmartctl(f, "bench"); err == nil {
				_ = r.Component()
			}
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
}
