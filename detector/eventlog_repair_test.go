package detector

import (
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// HPE's iLO marks a repaired IML event by logging the same words again
// with Severity OK: the pair is a hot-swap or a plug put back, not a
// standing fault.
func TestRepairedLogEntryResolves(t *testing.T) {
	t0 := time.Date(2026, 4, 21, 9, 58, 0, 0, time.UTC)
	msg := "System Power Supplies Not Redundant"
	warn := logEntry{Time: t0, Severity: model.SeverityWarning, Message: msg}
	for _, tc := range []struct {
		name  string
		later []logEntry
		want  bool
	}{
		{"repaired", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityInfo, Message: msg}}, true},
		{"other words", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityInfo, Message: "System Power Supplies Redundant"}}, false},
		{"repeated warning", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityWarning, Message: msg}}, false},
		{"none", nil, false},
	} {
		if got := deasserted(tc.later, &warn); got != tc.want {
			t.Errorf("%s: resolved %v, want %v", tc.name, got, tc.want)
		}
	}
}
