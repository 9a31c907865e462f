package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	mailboxv1 "github.com/sightline/sightline/pkg/gen/sightline/mailbox/v1"
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// SoakConfig is a soak: a fixed mixed rate for a set time (issue 8).
type SoakConfig struct {
	Duration time.Duration
	Rate     int           // requests per second, all kinds together
	Bucket   time.Duration // width of the time series (a minute)
	// Workers is how many requests may be in flight at most: a request that
	// no idle worker can take at its due time is dropped, not queued.
	Workers int
	// Prometheus endpoints (URLs) of the two services, for their resident size.
	VisibilityMetrics, MailboxMetrics string
}

// SoakResult is what a soak measured.
type SoakResult struct {
	Duration      string  `json:"duration"`
	Seconds       float64 `json:"seconds"`
	TargetRate    int     `json:"target_rate_per_s"`
	AchievedRate  float64 `json:"achieved_rate_per_s"`
	Workers       int     `json:"workers"`
	BucketSeconds float64 `json:"bucket_seconds"`
	Requests      int     `json:"requests"`
	Errors        int     `json:"errors"`
	// Dropped: requests the schedule could not start at their due time
	// because no worker was idle (the rate was not held); 0 when it was.
	Dropped int          `json:"dropped"`
	P50ms   float64      `json:"p50_ms"`
	P99ms   float64      `json:"p99_ms"`
	Kinds   []SoakKind   `json:"kinds"`
	Buckets []SoakBucket `json:"buckets"`
	// Resident memory (process_resident_memory_bytes) before the first and
	// after the last request, and at the end of each bucket (in Buckets).
	VisibilityRSS SoakRSS `json:"visibility_rss"`
	MailboxRSS    SoakRSS `json:"mailbox_rss"`
	Mix           string  `json:"mix"`
	FirstErr      string  `json:"first_error,omitempty"`
}

// SoakRSS is one service's resident memory at the start and end of a soak, in bytes.
type SoakRSS struct {
	Start float64 `json:"start_bytes"`
	End   float64 `json:"end_bytes"`
	Min   float64 `json:"min_bytes"`
	Max   float64 `json:"max_bytes"`
	Err   string  `json:"error,omitempty"`
}

// SoakKind is one kind of request of the mix.
type SoakKind struct {
	Name     string  `json:"name"`
	Group    string  `json:"group"` // decisions, detail views, sharing, ingest
	Weight   int     `json:"weight_percent"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

// SoakBucket is one period (a minute) of the soak.
type SoakBucket struct {
	StartSeconds float64 `json:"start_seconds"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	// P99 per group of the mix.
	GroupP99ms    map[string]float64 `json:"group_p99_ms"`
	VisibilityRSS float64            `json:"visibility_rss_bytes"`
	MailboxRSS    float64            `json:"mailbox_rss_bytes"`
}

// SoakGroups are the groups of the mix, in report order.
var SoakGroups = []string{"decisions", "detail views", "sharing", "ingest"}

type soakKind struct {
	name, group string
	weight      int
	call        func(ctx context.Context, i int) error
}

// Soak holds cfg.Rate requests/s of a mix over the visibility data set vset
// and the mailbox data set mset for cfg.Duration:
//
//	decisions     CheckAccess 35%, BatchCheckAccess of 100 deals 5%
//	detail views  ListItemThreads of mset's deal (50 threads) 25%
//	sharing       ShareThreads 5% / UnshareThreads 5%, toggling 20 threads of 20 users
//	ingest        IngestMessage 22%, BatchIngestMessages of 10 messages 3%
//
// Requests are started on a fixed schedule (open loop) by at most
// cfg.Workers goroutines, handed over without a queue: a request that no
// idle worker can take at its due time is counted as dropped. Latency is
// measured from the request's due time on the schedule to its reply, so a
// late start counts in it. Resident memory of both services is read from
// their /metrics before, at the end of each bucket and after.
func Soak(ctx context.Context, vis, mb *grpc.ClientConn, vset *VisibilitySet, mset *MailboxSet, svc func(context.Context) context.Context,
	vuser, muser func(ctx context.Context, id int64) context.Context, cfg SoakConfig, logf func(string, ...any)) (*SoakResult, error) {
	vc := visibilityv1.NewVisibilityServiceClient(vis)
	mc := mailboxv1.NewMailboxServiceClient(mb)
	if cfg.Rate < 1 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("soak: rate %d, duration %s", cfg.Rate, cfg.Duration)
	}
	if cfg.Workers < 1 {
		cfg.Workers = 64
	}
	if cfg.Bucket <= 0 {
		cfg.Bucket = time.Minute
	}
	sctx := svc(ctx)

	// Sharing: 20 threads of 20 users, ingested now.
	tag := time.Now().UnixNano()
	type owned struct {
		owner  int64
		thread int64
		ctx    context.Context
	}
	shared := make([]owned, 20)
	for i := range shared {
		u := int64(1 + i)
		raw := realisticMessage(messageSpec{ID: fmt.Sprintf("soak-share-%d-%d@customer.test", tag, i), FromName: "Soak Customer",
			From: fmt.Sprintf("soak%d@customer.test", i), To: fmt.Sprintf("user%d@acme.test", u), Subject: fmt.Sprintf("Soak sharing %d", i),
			Date: time.Now(), Seed: i})
		r, err := mc.IngestMessage(sctx, &mailboxv1.IngestMessageRequest{UserId: u, Folder: "INBOX", Raw: raw})
		if err != nil {
			return nil, fmt.Errorf("soak: ingest the sharing threads: %w", err)
		}
		shared[i] = owned{owner: u, thread: r.ThreadId, ctx: muser(ctx, u)}
	}

	vusers := make([]context.Context, 256)
	for i := range vusers {
		vusers[i] = vuser(ctx, int64(1+i*vset.Users/len(vusers)))
	}
	deal := func(i int) *visibilityv1.ItemRef {
		return &visibilityv1.ItemRef{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: int64(1 + (i*104729)%vset.Deals)}
	}
	batch := make([]*visibilityv1.ItemRef, 100)
	for i := range batch {
		batch[i] = deal(i * 31)
	}
	viewer := muser(ctx, mset.Viewer)
	detail := &mailboxv1.ListItemThreadsRequest{Item: &mailboxv1.ItemRef{Type: mailboxv1.ItemType_ITEM_TYPE_DEAL, Id: mset.Deal}, PageSize: dealThreads}
	var msgSeq atomic.Int64
	message := func(u int) []byte {
		n := int(msgSeq.Add(1))
		return realisticMessage(messageSpec{ID: fmt.Sprintf("soak-%d-%d@customer.test", tag, n), FromName: fmt.Sprintf("Customer %d", n%997),
			From: fmt.Sprintf("c%d@customer.test", n%997), To: fmt.Sprintf("user%d@acme.test", u),
			Subject: fmt.Sprintf("Soak proposal %d", n/4), Date: time.Now(), Seed: n})
	}
	var shareN, unshareN atomic.Int64
	kinds := []soakKind{
		{"CheckAccess", "decisions", 35, func(ctx context.Context, i int) error {
			_, err := vc.CheckAccess(vusers[i%len(vusers)], &visibilityv1.CheckAccessRequest{Item: deal(i)})
			return err
		}},
		{"BatchCheckAccess (100 items)", "decisions", 5, func(ctx context.Context, i int) error {
			_, err := vc.BatchCheckAccess(vusers[i%len(vusers)], &visibilityv1.BatchCheckAccessRequest{Items: batch})
			return err
		}},
		{"ListItemThreads (deal with 50 threads)", "detail views", 25, func(ctx context.Context, i int) error {
			r, err := mc.ListItemThreads(viewer, detail)
			if err == nil && len(r.Threads) != mset.DealThreads {
				err = fmt.Errorf("detail view: %d threads, want %d", len(r.Threads), mset.DealThreads)
			}
			return err
		}},
		{"ShareThreads", "sharing", 5, func(ctx context.Context, i int) error {
			t := shared[int(shareN.Add(1))%len(shared)]
			_, err := mc.ShareThreads(t.ctx, &mailboxv1.ShareThreadsRequest{ThreadIds: []int64{t.thread}})
			return err
		}},
		{"UnshareThreads", "sharing", 5, func(ctx context.Context, i int) error {
			t := shared[int(unshareN.Add(1))%len(shared)]
			_, err := mc.UnshareThreads(t.ctx, &mailboxv1.UnshareThreadsRequest{ThreadIds: []int64{t.thread}})
			return err
		}},
		{"IngestMessage (~5 KB)", "ingest", 22, func(ctx context.Context, i int) error {
			u := 1 + i%100
			_, err := mc.IngestMessage(sctx, &mailboxv1.IngestMessageRequest{UserId: int64(u), Folder: "INBOX", Raw: message(u)})
			return err
		}},
		{"BatchIngestMessages (10 x ~5 KB)", "ingest", 3, func(ctx context.Context, i int) error {
			u := 1 + i%100
			req := &mailboxv1.BatchIngestMessagesRequest{UserId: int64(u)}
			for range 10 {
				req.Messages = append(req.Messages, &mailboxv1.IngestMessageRequest{Folder: "INBOX", Raw: message(u)})
			}
			_, err := mc.BatchIngestMessages(sctx, req)
			return err
		}},
	}
	// One cycle of 100 slots with each kind weight times, in a fixed shuffled order.
	var table []int
	mix := ""
	for k, kd := range kinds {
		for range kd.weight {
			table = append(table, k)
		}
		if mix != "" {
			mix += ", "
		}
		mix += fmt.Sprintf("%s %d%%", kd.name, kd.weight)
	}
	if len(table) != 100 {
		return nil, fmt.Errorf("soak: the mix has %d slots, want 100", len(table))
	}
	rand.New(rand.NewPCG(7, 11)).Shuffle(len(table), func(i, j int) { table[i], table[j] = table[j], table[i] })

	nb := int((cfg.Duration + cfg.Bucket - 1) / cfg.Bucket)
	type cell struct {
		lat  []time.Duration
		errs int
	}
	var mu sync.Mutex
	cells := make([][]cell, nb) // bucket × kind
	for b := range cells {
		cells[b] = make([]cell, len(kinds))
	}
	firstErrs := make([]string, len(kinds))

	res := &SoakResult{Duration: cfg.Duration.String(), TargetRate: cfg.Rate, Workers: cfg.Workers, BucketSeconds: cfg.Bucket.Seconds(), Mix: mix}
	rss := func(url string, dst *SoakRSS) float64 {
		if url == "" {
			return 0
		}
		m, err := ReadMemory(ctx, url)
		if err != nil {
			if dst.Err == "" {
				dst.Err = err.Error()
			}
			return 0
		}
		v := m.RSSBytes
		if dst.Min == 0 || v < dst.Min {
			dst.Min = v
		}
		dst.Max = max(dst.Max, v)
		return v
	}
	res.VisibilityRSS.Start = rss(cfg.VisibilityMetrics, &res.VisibilityRSS)
	res.MailboxRSS.Start = rss(cfg.MailboxMetrics, &res.MailboxRSS)
	logf("soak: %s at %d requests/s (%s), up to %d in flight; RSS at start: visibility %.1f MiB, mailbox %.1f MiB",
		cfg.Duration, cfg.Rate, mix, cfg.Workers, res.VisibilityRSS.Start/(1<<20), res.MailboxRSS.Start/(1<<20))

	// Unbuffered: a send succeeds only when a worker is idle, waiting on jobs.
	type job struct {
		i      int
		due    time.Time // on the schedule
		bucket int       // of due
	}
	jobs := make(chan job)
	var wg, ready sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			for j := range jobs {
				k := table[j.i%len(table)]
				err := kinds[k].call(ctx, j.i)
				lat := time.Since(j.due) // from the schedule, not from when the worker took it
				mu.Lock()
				c := &cells[j.bucket][k]
				c.lat = append(c.lat, lat)
				if err != nil {
					c.errs++
					if firstErrs[k] == "" {
						firstErrs[k] = err.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	ready.Wait() // the workers are up before the first request is due
	start := time.Now()
	end := start.Add(cfg.Duration)
	// RSS at the end of each bucket.
	bucketRSS := make([][2]float64, nb)
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		for b := range nb {
			at := start.Add(time.Duration(b+1) * cfg.Bucket)
			if at.After(end) {
				at = end
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			bucketRSS[b] = [2]float64{rss(cfg.VisibilityMetrics, &res.VisibilityRSS), rss(cfg.MailboxMetrics, &res.MailboxRSS)}
		}
	}()
	interval := time.Second / time.Duration(cfg.Rate)
	dropped := 0
	lastLog := start
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- job{i, due, min(int(due.Sub(start)/cfg.Bucket), nb-1)}:
		default:
			dropped++
		}
		if time.Since(lastLog) >= cfg.Bucket {
			lastLog = time.Now()
			logf("soak: %s of %s, %d scheduled, %d dropped", time.Since(start).Round(time.Second), cfg.Duration, i+1, dropped)
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	<-rssDone
	res.VisibilityRSS.End = rss(cfg.VisibilityMetrics, &res.VisibilityRSS)
	res.MailboxRSS.End = rss(cfg.MailboxMetrics, &res.MailboxRSS)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res.Seconds = elapsed.Seconds()
	res.Dropped = dropped
	var allLat []time.Duration
	for k, kd := range kinds {
		var lat []time.Duration
		sk := SoakKind{Name: kd.name, Group: kd.group, Weight: kd.weight, FirstErr: firstErrs[k]}
		for b := range nb {
			lat = append(lat, cells[b][k].lat...)
			sk.Errors += cells[b][k].errs
		}
		slices.Sort(lat)
		sk.Requests = len(lat)
		sk.P50ms, sk.P99ms = percentile(lat, 50), percentile(lat, 99)
		res.Kinds = append(res.Kinds, sk)
		res.Requests += sk.Requests
		res.Errors += sk.Errors
		if res.FirstErr == "" && sk.FirstErr != "" {
			res.FirstErr = kd.name + ": " + sk.FirstErr
		}
		allLat = append(allLat, lat...)
	}
	slices.Sort(allLat)
	res.P50ms, res.P99ms = percentile(allLat, 50), percentile(allLat, 99)
	res.AchievedRate = float64(res.Requests) / elapsed.Seconds()
	for b := range nb {
		sb := SoakBucket{StartSeconds: (time.Duration(b) * cfg.Bucket).Seconds(), GroupP99ms: map[string]float64{},
			VisibilityRSS: bucketRSS[b][0], MailboxRSS: bucketRSS[b][1]}
		var lat []time.Duration
		byGroup := map[string][]time.Duration{}
		for k, kd := range kinds {
			c := cells[b][k]
			lat = append(lat, c.lat...)
			byGroup[kd.group] = append(byGroup[kd.group], c.lat...)
			sb.Errors += c.errs
		}
		slices.Sort(lat)
		sb.Requests = len(lat)
		sb.P50ms, sb.P99ms = percentile(lat, 50), percentile(lat, 99)
		for g, l := range byGroup {
			slices.Sort(l)
			sb.GroupP99ms[g] = percentile(l, 99)
		}
		res.Buckets = append(res.Buckets, sb)
	}
	return res, nil
}
