// Command trainmodel trains the detector's learned disk model
// (detector/diskmodel/disk-model-v1.json) on the tune half of the
// Backblaze 2018 set, and writes the model file. Run from the repository's
// root:
//
//	go run ./tools/trainmodel                 # rewrite the model file
//	go run ./tools/trainmodel -check          # is the file what training gives?
//	go run ./tools/trainmodel -cv             # 2-fold cross-validation within tune
//	go run ./tools/trainmodel -cv -kind trees # the same for gradient-boosted trees
//
// Training reads only the drives of the tune split (evaluation.Split), and
// of them only what the detector would have seen: the features of a row
// are computed from the rows up to it (detector.DriveHistory), and the
// failure label only names the rows to learn from. It is deterministic
// (drives sorted by serial, sums in a fixed order, numbers rounded to six
// digits): the same files give the same file, byte for byte.
// docs/evaluation.md describes the model and how it scores.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/model"
)

// defaultData are the training files, relative to the repository's root.
func defaultData() []string {
	return []string{"testdata/backblaze/backblaze_2018_st4000dm000/failed_drives.csv.gz",
		"testdata/backblaze/backblaze_2018_st4000dm000/healthy_drives_sample.csv.gz"}
}

const defaultOut = "detector/diskmodel/disk-model-v1.json"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trainmodel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trainmodel", flag.ContinueOnError)
	o := defaultTrainOptions()
	out := fs.String("out", defaultOut, "model `FILE` to write")
	check := fs.Bool("check", false, "do not write: fail if the model file differs from what training gives")
	cv := fs.Bool("cv", false, "report a 2-fold cross-validation within the tune split instead of training")
	features := fs.String("features", "", "comma-separated features to use, or all (default: the media counters')")
	fs.IntVar(&o.Horizon, "horizon", o.Horizon, "positives: rows at most this many days before a failure")
	fs.IntVar(&o.MinLead, "min-lead", o.MinLead, "positives: rows at least this many days before a failure")
	fs.Float64Var(&o.L2, "l2", o.L2, "ridge penalty")
	fs.IntVar(&o.NegStride, "stride", o.NegStride, "sample one healthy row in this many")
	fs.IntVar(&o.MineRounds, "mine-rounds", o.MineRounds, "rounds of hard-negative mining")
	fs.IntVar(&o.MineTop, "mine-top", o.MineTop, "rows added per healthy drive and round")
	fs.Float64Var(&o.MineWeight, "mine-weight", o.MineWeight, "weight of a healthy drive's mined rows")
	fs.Float64Var(&o.AlarmBudget, "alarm-budget", o.AlarmBudget, "healthy drives flagged per year by the detector with the model at its default level")
	kind := fs.String("kind", "logistic", "with -cv: the model to cross-validate, logistic or trees (gradient-boosted)")
	g := defaultGBDTOptions()
	fs.IntVar(&g.Trees, "trees", g.Trees, "-kind trees: number of trees")
	fs.IntVar(&g.Depth, "depth", g.Depth, "-kind trees: tree depth")
	fs.IntVar(&g.MinLeaf, "min-leaf", g.MinLeaf, "-kind trees: fewest examples in a leaf")
	fs.Float64Var(&g.LR, "lr", g.LR, "-kind trees: learning rate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kind != "logistic" && (*kind != "trees" || !*cv) {
		return fmt.Errorf("-kind %q: want logistic, or trees with -cv (the detector runs logistic models only)", *kind)
	}
	switch *features {
	case "":
	case "all":
		o.Features = nil
	default:
		o.Features = strings.Split(*features, ",")
	}
	files := fs.Args()
	if len(files) == 0 {
		files = defaultData()
	}
	srcs, done, err := openSources(files)
	if err != nil {
		return err
	}
	defer done()
	cfg := detector.DefaultConfig()
	ds, err := readDataset(ctx, srcs, readOptions{split: "tune", cfg: cfg, labels: true})
	if err != nil {
		return err
	}
	if *cv {
		var tr *gbdtOptions
		if *kind == "trees" {
			tr = &g
		}
		return crossValidate(stdout, ds, cfg, o, tr)
	}
	data, err := trainFile(ds, cfg, o, files)
	if err != nil {
		return err
	}
	if *check {
		have, err := os.ReadFile(*out)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, data) {
			return fmt.Errorf("%s differs from what training gives: run go run ./tools/trainmodel", *out)
		}
		fmt.Fprintf(stdout, "%s: reproduced\n", *out)
		return nil
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d features, trained on %d drives\n", *out, strings.Count(string(data), `"scale"`), len(ds.drives))
	return nil
}

// trainFile trains on the dataset and returns the model file.
func trainFile(ds *dataset, cfg detector.Config, o trainOptions, files []string) ([]byte, error) {
	ft, err := trainModel(ds, ds.drives, o)
	if err != nil {
		return nil, err
	}
	logits := allLogits(ds, ds.drives, ft, o.Clip)
	alarm := chooseAlarm(ds.drives, logits, policyOf(cfg), o.AlarmBudget, 1, o.MinScore)
	prov := detector.Provenance{Command: "go run ./tools/trainmodel", Split: "tune", Drives: len(ds.drives),
		Examples: ft.examples, Positives: ft.positives, Settings: o.settings()}
	for _, d := range ds.drives {
		if d.failed {
			prov.Failed++
		}
	}
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return nil, err
		}
		prov.Data = append(prov.Data, dataName(f)+" sha256:"+sum)
	}
	m := ft.modelFile(o, alarm, prov)
	data, err := encodeModel(m)
	if err != nil {
		return nil, err
	}
	if _, err := detector.ParseDiskModel("trained model", data); err != nil {
		return nil, err
	}
	return data, nil
}

// allLogits scores every row of the drives.
func allLogits(ds *dataset, drives []*driveData, ft *fitted, clip float64) [][]float64 {
	nf := len(ds.names)
	out := make([][]float64, len(drives))
	for i, d := range drives {
		out[i] = make([]float64, len(d.days))
		for r := range d.days {
			out[i][r] = ft.logit(d, r, nf, clip)
		}
	}
	return out
}

// policyOf is the detector's state machine for drives.
func policyOf(cfg detector.Config) evaluation.Hysteresis {
	kc := cfg.Kinds[model.KindDrive]
	return evaluation.Hysteresis{Watch: cfg.Watch, Degrading: cfg.DegradingFor(model.KindDrive), Failing: cfg.Failing, Hysteresis: cfg.Hysteresis,
		Confirm: kc.Confirm, ClearAfterDays: kc.ClearAfter.D().Hours() / 24}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dataName names a training file in the provenance: from the
// repository's testdata/ on when it is there (the same wherever the
// command runs from), else its base name.
func dataName(path string) string {
	p := filepath.ToSlash(path)
	if i := strings.LastIndex(p, "testdata/"); i >= 0 {
		return p[i:]
	}
	return filepath.Base(p)
}

func openFile(path string) (*os.File, error) { return os.Open(path) }
