// Package report renders a fleet scan as one self-contained HTML page: a
// fleet overview (servers scanned and failed, components by kind and
// health, the worst risks, the servers with a part about to fail), the
// servers ranked by their worst component risk, a section per server
// (components with health, risk, state, main reading against its
// thresholds, reasons and forecast; readings over time as charts), and the
// inventory when given.
//
// The page loads nothing: its CSS is inline, its charts are SVG drawn here,
// it has no script, and its Content-Security-Policy forbids any load but
// data: images, so a person can mail it, open it offline or print it.
// Everything a BMC said is escaped by html/template and clipped in length:
// a BMC is hostile, and its strings are text, never markup. The page is
// bounded whatever the fleet: per-server sections, component rows, charts,
// points per chart and inventory rows all have limits, and the page says
// what it left out.
//
// The package does no I/O of its own beyond writing to the io.Writer it is
// given, and logs nothing.
package report
