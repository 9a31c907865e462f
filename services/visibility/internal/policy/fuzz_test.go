package policy_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sightline/sightline/services/visibility/internal/policy"
	"github.com/sightline/sightline/services/visibility/internal/policy/policytest"
)

// FuzzDecideMatchesReference lets the fuzzer choose the company (through the
// random generator's seed and shape) and the items, and requires the engine
// to decide every (viewer, item) pair, and the filter of every viewer and
// type to equal the model's and admit exactly the items allowed, as the
// brute-force reference model does (the checks of the property tests).
// The property tests sweep seeds in order; the fuzzer looks for the shapes
// they miss (deep trees, many admins, inactive users, odd visible_to).
func FuzzDecideMatchesReference(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(10), uint8(2), uint8(20), uint8(10))
	f.Add(uint64(42), uint8(20), uint8(40), uint8(5), uint8(90), uint8(0))
	f.Add(uint64(7), uint8(1), uint8(2), uint8(0), uint8(0), uint8(100))
	f.Fuzz(func(t *testing.T, seed uint64, groups, users, pipelines, adminPct, inactivePct uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(groups)<<8|uint64(users)))
		g := 1 + int(groups)%24
		u := 1 + int(users)%48
		c := policytest.RandomCompany(r, policytest.WithGroups(g, g), policytest.WithUsers(u, u),
			policytest.WithPipelines(int(pipelines)%6), policytest.WithAdminRate(float64(adminPct%101)/100),
			policytest.WithInactiveRate(float64(inactivePct%101)/100))
		s, err := policy.Build(c)
		if err != nil {
			if policytest.ReferenceValidate(c) == nil {
				t.Fatalf("Build refused a company the model accepts: %v", err)
			}
			return
		}
		items := policytest.RandomItems(r, c, 40)
		withInvalidVisibleTo(r, items)
		if checkDecisions(t, s, c, items) {
			checkFilter(t, s, c, items)
		}
	})
}
