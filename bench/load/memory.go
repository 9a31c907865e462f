package load

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// MemoryResult is the resident size of visibility before and after it
// loads Companies companies of UsersPerCompany users in GroupsPerCompany
// groups each (read from its Prometheus /metrics).
type MemoryResult struct {
	Status           string    `json:"status"`
	Note             string    `json:"note,omitempty"`
	Metrics          string    `json:"metrics_url"`
	Companies        int       `json:"companies"`
	UsersPerCompany  int       `json:"users_per_company"`
	GroupsPerCompany int       `json:"groups_per_company"` // with the default group
	Calls            int       `json:"seed_calls"`
	SeedSeconds      float64   `json:"seed_seconds"` // writing them through the API
	LoadSeconds      float64   `json:"load_seconds"` // one LookupAccessFilter per company, which loads it
	Before           MemSample `json:"before"`
	After            MemSample `json:"after"`
	// (After − Before) / Companies.
	RSSPerCompany       float64 `json:"rss_bytes_per_company"`
	HeapInusePerCompany float64 `json:"heap_inuse_bytes_per_company"`
	Errors              int     `json:"errors"`
	FirstErr            string  `json:"first_error,omitempty"`
}

// MemSample is one read of the visibility's /metrics.
type MemSample struct {
	RSSBytes        float64 `json:"process_resident_memory_bytes"`
	HeapInuseBytes  float64 `json:"go_memstats_heap_inuse_bytes"`
	CompaniesLoaded float64 `json:"sightline_visibility_companies_loaded"`
}

// ReadMemory reads url (a Prometheus text exposition).
func ReadMemory(ctx context.Context, url string) (MemSample, error) {
	var s MemSample
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "process_resident_memory_bytes":
			dst = &s.RSSBytes
			found++
		case "go_memstats_heap_inuse_bytes":
			dst = &s.HeapInuseBytes
		case "sightline_visibility_companies_loaded":
			dst = &s.CompaniesLoaded
		default:
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			*dst = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found == 0 {
		return s, fmt.Errorf("GET %s: no process_resident_memory_bytes", url)
	}
	return s, nil
}

// MemoryScenario writes companies companies (ids first, first+1, ...) of
// users users in groups groups each (the default group and groups−1 custom
// ones: a few roots and their children) through the API, then makes the
// visibility load every one of them (a LookupAccessFilter as a user of each)
// and reads its resident size before and after from metricsURL.
// svc and user call as a service principal / a user of the given company.
func MemoryScenario(ctx context.Context, conn *grpc.ClientConn, metricsURL string, first int64, companies, users, groups int,
	svc func(ctx context.Context, company int64) context.Context, user func(ctx context.Context, company, id int64) context.Context,
	logf func(string, ...any)) MemoryResult {
	res := MemoryResult{Status: StatusOK, Metrics: metricsURL, Companies: companies, UsersPerCompany: users, GroupsPerCompany: groups}
	fail := func(err error) MemoryResult {
		res.Errors++
		if res.FirstErr == "" {
			res.FirstErr = err.Error()
		}
		return res
	}
	before, err := ReadMemory(ctx, metricsURL)
	if err != nil {
		return fail(fmt.Errorf("metrics before: %w", err))
	}
	res.Before = before
	c := visibilityv1.NewVisibilityServiceClient(conn)
	var calls atomic.Int64
	t0 := time.Now()
	err = parallel(ctx, seedWorkers, companies, func(ctx context.Context, i int) error {
		company := first + int64(i)
		ctx = svc(ctx, company)
		if _, err := c.CreateCompany(ctx, &visibilityv1.CreateCompanyRequest{Plan: visibilityv1.Plan_PLAN_ENTERPRISE}); err != nil {
			return fmt.Errorf("company %d: create: %w", company, err)
		}
		ids := make([]int64, 0, groups)
		roots := max(1, (groups-1)/5)
		for g := range groups - 1 {
			var parent int64
			if g >= roots {
				parent = ids[g%roots]
			}
			resp, err := c.CreateGroup(ctx, &visibilityv1.CreateGroupRequest{Group: &visibilityv1.Group{Name: fmt.Sprintf("Group %d", g), ParentId: parent}})
			if err != nil {
				return fmt.Errorf("company %d: create group: %w", company, err)
			}
			ids = append(ids, resp.Group.Id)
		}
		n := 1 + len(ids)
		for u := int64(1); u <= int64(users); u++ {
			perms := &visibilityv1.Permissions{ChangeVisibility: u == 1, AccountSettings: u == 1, DealAdmin: u%50 == 2}
			if _, err := c.UpsertUser(ctx, &visibilityv1.UpsertUserRequest{User: &visibilityv1.User{Id: u, Name: fmt.Sprintf("user %d", u), Active: true, Permissions: perms}}); err != nil {
				return fmt.Errorf("company %d: upsert user: %w", company, err)
			}
			n++
			if len(ids) == 0 || u%25 == 0 {
				continue // some stay in the default group
			}
			if _, err := c.SetUserGroup(ctx, &visibilityv1.SetUserGroupRequest{UserId: u, GroupId: ids[int(u)%len(ids)]}); err != nil {
				return fmt.Errorf("company %d: set user group: %w", company, err)
			}
			n++
		}
		calls.Add(int64(n))
		if logf != nil && (i+1)%max(1, companies/5) == 0 {
			logf("memory: seeded %d / %d companies", i+1, companies)
		}
		return nil
	})
	res.SeedSeconds = time.Since(t0).Seconds()
	res.Calls = int(calls.Load())
	if err != nil {
		return fail(err)
	}
	t0 = time.Now()
	err = parallel(ctx, seedWorkers, companies, func(ctx context.Context, i int) error {
		company := first + int64(i)
		_, err := c.LookupAccessFilter(user(ctx, company, 2), &visibilityv1.LookupAccessFilterRequest{ItemType: visibilityv1.ItemType_ITEM_TYPE_DEAL})
		if err != nil {
			return fmt.Errorf("company %d: LookupAccessFilter: %w", company, err)
		}
		return nil
	})
	res.LoadSeconds = time.Since(t0).Seconds()
	if err != nil {
		return fail(err)
	}
	time.Sleep(time.Second) // let the process settle (background GC) before reading
	after, err := ReadMemory(ctx, metricsURL)
	if err != nil {
		return fail(fmt.Errorf("metrics after: %w", err))
	}
	res.After = after
	if companies > 0 {
		res.RSSPerCompany = (after.RSSBytes - before.RSSBytes) / float64(companies)
		res.HeapInusePerCompany = (after.HeapInuseBytes - before.HeapInuseBytes) / float64(companies)
	}
	return res
}
