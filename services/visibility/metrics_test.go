package visibility_test

import (
	"bytes"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/pkg/pgtest"
	"github.com/sightline/sightline/pkg/servicetest"
	"github.com/sightline/sightline/services/visibility"
)

// The metrics an operator watches move with the work: decisions by reason
// (allowed or not), snapshot rebuilds and the versions applied to memory,
// and the gRPC server's per-method counters. Every series exists from the
// start (at 0), so each is checked for its value, not its presence.
func TestMetrics_DecisionsByReasonAndSnapshot(t *testing.T) {
	in := servicetest.Start(t, visibility.Service(), servicetest.Options{DatabaseURL: pgtest.New(t, migrated), Metrics: true})
	e := &env{Instance: in, client: visibilityv1.NewVisibilityServiceClient(in.Conn)}
	c := newCo(t, e, 1, visibilityv1.Plan_PLAN_ENTERPRISE)
	c.user(1, 0, perms{change: true})
	c.user(2, 0, perms{})
	deal := visibilityv1.ItemType_ITEM_TYPE_DEAL
	c.item(1, &visibilityv1.Item{Type: deal, Id: 10, OwnerId: 1, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_OWNER})
	checks := 0
	c.check(1, deal, 10, 0) // owner; the first decision loads the company into memory
	checks++
	// Writes made once the company is in memory reach it by refreshes, each
	// bringing at least one version.
	writes := 0
	r := c.item(1, &visibilityv1.Item{Type: deal, Id: 11, OwnerId: 1, VisibleTo: visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY})
	writes++
	c.user(3, 0, perms{})
	writes++
	c.check(2, deal, 10, r.GetVersion()) // not visible
	checks++
	if _, err := c.c.BatchCheckAccess(c.svc, &visibilityv1.BatchCheckAccessRequest{UserId: 2,
		Items: []*visibilityv1.ItemRef{ref(deal, 10), ref(deal, 11), ref(deal, 11), ref(deal, 99)}}); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + in.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := metricValue(families[name], labels...)
		if !ok {
			t.Errorf("/metrics has no single series %s%v", name, labels)
		}
		return v
	}
	decisions := "sightline_visibility_decisions_total"
	for _, w := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"allowed", "true", "reason", "owner"}, 1},
		{[]string{"allowed", "false", "reason", "not_visible"}, 2},
		{[]string{"allowed", "true", "reason", "owner_group"}, 2}, // both in the default group
		{[]string{"allowed", "false", "reason", "item_not_found"}, 1},
	} {
		if got := value(decisions, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", decisions, w.labels, got, w.want)
		}
	}
	if got := value("sightline_visibility_companies_loaded"); got != 1 {
		t.Errorf("companies_loaded = %v, want 1", got)
	}
	if got := value("sightline_visibility_snapshot_rebuild_seconds"); got <= 0 {
		t.Errorf("snapshot_rebuild_seconds_count = %v, want the load and refreshes observed", got)
	}
	if got := value("sightline_visibility_snapshot_versions_applied_total"); got < float64(writes) {
		t.Errorf("snapshot_versions_applied_total = %v, want at least the %d writes made after the load", got, writes)
	}
	if got := value("grpc_server_handled_total", "grpc_code", "OK", "grpc_method", "CheckAccess"); got != float64(checks) {
		t.Errorf("grpc_server_handled_total{OK, CheckAccess} = %v, want the %d calls made", got, checks)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grep(string(body), "sightline_", `grpc_code="OK"`))
	}
}

// metricValue returns the value of the one series of mf whose labels
// include the given name/value pairs: a counter's or gauge's value, a
// histogram's or summary's count of observations.
func metricValue(mf *dto.MetricFamily, labels ...string) (float64, bool) {
	if mf == nil {
		return 0, false
	}
	var found []float64
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.GetCounter().GetValue())
		case m.Gauge != nil:
			found = append(found, m.GetGauge().GetValue())
		case m.Histogram != nil:
			found = append(found, float64(m.GetHistogram().GetSampleCount()))
		case m.Summary != nil:
			found = append(found, float64(m.GetSummary().GetSampleCount()))
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

// grep returns the sample lines of text (but histogram buckets) containing
// any of subs, sorted.
func grep(text string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") || strings.Contains(l, "_bucket{") {
			continue
		}
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
