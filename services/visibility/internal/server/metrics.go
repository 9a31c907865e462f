package server

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
	"github.com/sightline/sightline/services/visibility/internal/policy"
)

// decisionMetrics counts the decisions of CheckAccess and BatchCheckAccess
// by the reason reported to the caller. The counters are resolved once, so
// counting costs an array index and an atomic add, and a batch adds once per
// reason.
type decisionMetrics struct {
	byReason []prometheus.Counter // indexed by the DecisionReason number
}

func newDecisionMetrics(reg prometheus.Registerer) *decisionMetrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sightline_visibility_decisions_total",
		Help: "Access decisions answered by CheckAccess and BatchCheckAccess, by the reason reported (allowed or denied).",
	}, []string{"reason", "allowed"})
	reg.MustRegister(vec)
	m := &decisionMetrics{}
	maxReason := int32(0)
	for n := range visibilityv1.DecisionReason_name {
		maxReason = max(maxReason, n)
	}
	m.byReason = make([]prometheus.Counter, maxReason+1)
	for n, name := range visibilityv1.DecisionReason_name {
		if n == 0 {
			continue
		}
		r := visibilityv1.DecisionReason(n)
		m.byReason[n] = vec.WithLabelValues(strings.ToLower(strings.TrimPrefix(name, "DECISION_REASON_")), allowedLabel(r))
	}
	return m
}

// allowedLabel says whether a reason allows access: the "allowed" label.
// The proto's reason numbers are the policy's (see policy.Reason).
func allowedLabel(r visibilityv1.DecisionReason) string {
	if policy.Reason(r).Allows() {
		return "true"
	}
	return "false"
}

// tally returns zeroed decision counts indexed by reason, for a batch to
// count into before adding them once with add.
func (m *decisionMetrics) tally() []int { return make([]int, len(m.byReason)) }

func (m *decisionMetrics) add(r visibilityv1.DecisionReason, n int) {
	if int(r) < len(m.byReason) && m.byReason[r] != nil && n > 0 {
		m.byReason[r].Add(float64(n))
	}
}
