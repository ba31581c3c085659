package redfish

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
)

// A collection too large to read whole is read again as pages of $top
// members where the service supports $top, instead of being lost.
func TestTooLargeCollectionReadInPages(t *testing.T) {
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	mock := redfishmock.New(tree, redfishmock.WithoutAuth())
	var paged atomic.Int32 // the reader's requests run concurrently
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redfish/v1/Chassis" && !strings.Contains(r.URL.RawQuery, "$top") {
			// Whole, the collection is over the client's 1 MiB bound.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Members": [], "Padding": "` + strings.Repeat("x", 2<<20) + `"}`))
			return
		}
		if strings.Contains(r.URL.RawQuery, "$top") {
			paged.Add(1)
		}
		mock.ServeHTTP(w, r)
	}))
	defer srv.Close()

	snap, err := Scan(context.Background(), srv.URL, WithMaxResponseBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if paged.Load() == 0 {
		t.Error("the collection was not asked for again with $top")
	}
	if snap.Count(model.KindFan) != 4 || snap.Count(model.KindPSU) != 2 {
		t.Errorf("%d fans, %d PSUs after paging; want 4 and 2", snap.Count(model.KindFan), snap.Count(model.KindPSU))
	}
	var tooLarge, pages bool
	for _, w := range snap.Warnings {
		tooLarge = tooLarge || strings.Contains(w.Message, "bound on a response")
		pages = pages || strings.Contains(w.Message, "pages of 2000 members")
	}
	if !tooLarge || !pages {
		t.Errorf("warnings do not say what happened: %+v", snap.Warnings)
	}
	// Without $top support the oversized collection is a warning, and the
	// scan goes on with the rest.
	c, _ := New(srv.URL, WithMaxResponseBytes(1<<20))
	if err := c.connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.features.topSkip = false
	snap, err = c.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Count(model.KindFan) != 0 || snap.Count(model.KindSystem) != 1 {
		t.Errorf("without $top: %d fans (want 0: the chassis could not be read), %d systems (want 1)", snap.Count(model.KindFan), snap.Count(model.KindSystem))
	}
	found := false
	for _, w := range snap.Warnings {
		found = found || (w.Source == "/redfish/v1/Chassis" && strings.Contains(w.Message, ErrTooLarge.Error()))
	}
	if !found {
		t.Errorf("no ErrTooLarge warning for the collection: %+v", snap.Warnings)
	}
}
