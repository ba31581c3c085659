package redfish_test

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// doubleListed returns the DL380a capture as an HPE iLO 7 GPU server
// serves it: every drive of the Chassis/N/Drives collections listed again
// by a Storage resource under another URI (Systems/1/Storage/DA00000N/
// Drives/DA00000N), with the same serial number and no link between the
// two resources.
func doubleListed(t *testing.T) (*redfishmock.Tree, int) {
	t.Helper()
	tree, err := redfishmock.LoadDir("../testdata/redfish/hpe-ilo/DL380a")
	if err != nil {
		t.Fatal(err)
	}
	var members []map[string]any
	n := 0
	for _, p := range tree.Paths() {
		if !strings.HasPrefix(p, "/redfish/v1/Chassis/") || path.Base(path.Dir(p)) != "Drives" {
			continue
		}
		b, _ := tree.Get(p)
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil || d["SerialNumber"] == nil {
			continue
		}
		n++
		st := fmt.Sprintf("/redfish/v1/Systems/1/Storage/DA%06d", n)
		id := fmt.Sprintf("%s/Drives/DA%06d", st, n)
		d["@odata.id"], d["Id"] = id, path.Base(id)
		delete(d, "Links")
		db, _ := json.Marshal(d)
		sb, _ := json.Marshal(map[string]any{
			"@odata.id": st, "@odata.type": "#Storage.v1_15_0.Storage", "Id": path.Base(st), "Name": "Storage " + path.Base(st),
			"Status": map[string]any{"State": "Enabled", "Health": "OK"},
			"Drives": []any{map[string]any{"@odata.id": id}},
		})
		tree = tree.With(id, db).With(st, sb)
		members = append(members, map[string]any{"@odata.id": st})
	}
	b, _ := tree.Get("/redfish/v1/Systems/1/Storage")
	var coll map[string]any
	if err := json.Unmarshal(b, &coll); err != nil {
		t.Fatal(err)
	}
	old, _ := coll["Members"].([]any)
	for _, m := range members {
		old = append(old, m)
	}
	coll["Members"], coll["Members@odata.count"] = old, len(old)
	cb, _ := json.Marshal(coll)
	return tree.With("/redfish/v1/Systems/1/Storage", cb), n
}

// One physical drive is one component, however many resources describe
// it: the same serial number (and model) is the same drive.
func TestDriveListedTwiceIsOneDrive(t *testing.T) {
	plain, _ := scanTree(t, embeddedCapture(t, "hpe-ilo/DL380a"))
	tree, copies := doubleListed(t)
	if copies != 7 {
		t.Fatalf("made %d second listings, want the 7 drives with a serial number", copies)
	}
	for _, variant := range []struct {
		name string
		opts []redfishmock.Option
	}{{"expand", nil}, {"no-expand", []redfishmock.Option{redfishmock.WithoutExpand()}}} {
		snap, _ := scanTree(t, tree, variant.opts...)
		if got, want := snap.Count(model.KindDrive), plain.Count(model.KindDrive); got != want || got != 8 {
			t.Errorf("%s: %d drives, want %d (8: 7 with serials and one empty bay), as without the second listing", variant.name, got, want)
		}
		serials := map[string]string{}
		for _, c := range snap.Components {
			if c.Kind != model.KindDrive || c.Inventory.SerialNumber == "" {
				continue
			}
			if prev, dup := serials[c.Inventory.SerialNumber]; dup {
				t.Errorf("%s: serial %s reported as %s and %s", variant.name, c.Inventory.SerialNumber, prev, c.ID)
			}
			serials[c.Inventory.SerialNumber] = c.ID
			if !strings.HasPrefix(c.ID, "/redfish/v1/Chassis/") {
				t.Errorf("%s: drive %s: want the lower id, the Chassis drive's, whatever was read first", variant.name, c.ID)
			}
		}
	}
}

func embeddedCapture(t *testing.T, rel string) *redfishmock.Tree {
	t.Helper()
	tree, err := redfishmock.LoadDir("../testdata/redfish/" + rel)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}
