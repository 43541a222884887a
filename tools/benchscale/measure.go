package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
)

// Targets of docs/performance.md.
const (
	searchTarget = 20 * time.Millisecond
	pageTarget   = 5 * time.Millisecond
	insertTarget = 5 * time.Millisecond
)

// measurement is one thing timed, at the store and over HTTP.
type measurement struct {
	Name    string
	Term    string // the search term, if any
	Matches int    // rows the term matches, for the report
	Target  time.Duration
	// store makes one call and returns how long it took; path (GET) or
	// post (POST body) is one HTTP request.
	store func(ctx context.Context, run int) (time.Duration, error)
	path  string
	post  func(run int) string

	storeTimes, httpTimes []time.Duration
}

// plan lists the measurements: the named search terms, the first and a deep
// page, an insert, and (informational) short terms and a search run from a
// cached statement.
func plan(ctx context.Context, db *database.DB, store *items.Store, load loadInfo) (ms []*measurement, done func(), err error) {
	search := func(name, term string, target time.Duration) *measurement {
		return &measurement{
			Name: name, Term: term, Target: target,
			store: timed(func(ctx context.Context, _ int) error {
				_, _, err := store.List(ctx, items.Page{Limit: 20, Query: term})
				return err
			}),
			path: "/api/items?limit=20&q=" + url.QueryEscape(term),
		}
	}
	deep := load.Deep
	ms = []*measurement{
		search("search, rare term", "quokka", searchTarget),
		search("search, no match", "xylophone", searchTarget),
		search("search, specific name", load.Specific, searchTarget),
		search("search, common term", "lamp", searchTarget),
		search("search, two common words", "brass lamp", searchTarget),
		search("search, uncommon term (0.1 %)", "heirloom", searchTarget),
		search("search, two words (0.8 %)", "walnut clock", searchTarget),
		search("search, term only among the oldest 5 % of rows", "legacy", 0),
		{
			Name: "first page", Target: pageTarget,
			store: timed(func(ctx context.Context, _ int) error {
				_, _, err := store.List(ctx, items.Page{Limit: 20})
				return err
			}),
			path: "/api/items?limit=20",
		},
		{
			Name: "deep cursor page (99 % down)", Target: pageTarget,
			store: timed(func(ctx context.Context, _ int) error {
				_, _, err := store.List(ctx, items.Page{Limit: 20, After: &deep})
				return err
			}),
			path: "/api/items?limit=20&cursor=" + deep.Encode(),
		},
		{
			Name: "insert", Target: insertTarget,
			store: timed(func(ctx context.Context, run int) error {
				_, err := store.Create(ctx, items.Input{Name: "bench insert " + strconv.Itoa(run), Description: "a new item"}, "bench")
				return err
			}),
			post: func(run int) string {
				return `{"name":"bench http insert ` + strconv.Itoa(run) + `","description":"a new item"}`
			},
		},
		// The stated bound for 1-2 character terms: the newest-first walk.
		search("short term, 1 char, common (a)", "a", 0),
		search("short term, 1 char, 1 % of rows (%)", "%", 0),
		search("short term, 2 chars, 1 % of rows (üb)", "üb", 0),
		search("short term, 2 chars, no match (zq)", "zq", 0),
	}
	// What QueryExecModeExec avoids: the store's search statement,
	// prepared and cached on a connection (pgx's default mode). After five
	// executions PostgreSQL may switch to a generic plan, made without the
	// term: six short-term searches first (each a full walk) make it pick
	// the walk, for every later term.
	const cachedSQL = `SELECT id, name, description, created_by, created_at, updated_by, updated_at, version FROM items` +
		` WHERE name ILIKE $1 ORDER BY created_at DESC, id DESC LIMIT $2`
	cached, err := pgx.ConnectConfig(ctx, db.Pool.Config().ConnConfig)
	if err != nil {
		return nil, nil, err
	}
	closeCached := func() { _ = cached.Close(context.Background()) }
	for range 6 {
		if _, err := cached.Exec(ctx, cachedSQL, "%zq%", 21); err != nil {
			closeCached()
			return nil, nil, err
		}
	}
	ms = append(ms, &measurement{
		Name: "rare term, cached statement after 6 short-term searches (what the store avoids)", Term: "quokka",
		store: timed(func(ctx context.Context, _ int) error {
			rows, err := cached.Query(ctx, cachedSQL, "%quokka%", 21)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}),
	})
	for _, m := range ms {
		if m.Term == "" {
			continue
		}
		pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(m.Term) + "%"
		if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM items WHERE name ILIKE $1", pgx.QueryExecModeExec, pattern).Scan(&m.Matches); err != nil {
			closeCached()
			return nil, nil, err
		}
	}
	return ms, closeCached, nil
}

// timed turns a call into a store measurement timed from start to end.
func timed(f func(ctx context.Context, run int) error) func(context.Context, int) (time.Duration, error) {
	return func(ctx context.Context, run int) (time.Duration, error) {
		start := time.Now()
		err := f(ctx, run)
		return time.Since(start), err
	}
}

// measure runs every measurement s.Warmup times untimed, then s.Runs times
// timed, interleaved (one run of each in turn) so a slow moment of a shared
// machine spreads over all of them rather than hitting one.
func measure(ctx context.Context, ms []*measurement, base string, s settings, out io.Writer) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	fmt.Fprintf(out, "measuring: %d warm-up and %d timed runs of %d measurements, store and HTTP ...\n", s.Warmup, s.Runs, len(ms))
	for run := -s.Warmup; run < s.Runs; run++ {
		for _, m := range ms {
			took, err := m.store(ctx, run+s.Warmup)
			if err != nil {
				return fmt.Errorf("%s (store): %w", m.Name, err)
			}
			if run >= 0 {
				m.storeTimes = append(m.storeTimes, took)
			}
			if m.path == "" && m.post == nil {
				continue
			}
			took, err = timeRequest(client, base, m, run+s.Warmup)
			if err != nil {
				return fmt.Errorf("%s (HTTP): %w", m.Name, err)
			}
			if run >= 0 {
				m.httpTimes = append(m.httpTimes, took)
			}
		}
	}
	return nil
}

func timeRequest(client *http.Client, base string, m *measurement, run int) (time.Duration, error) {
	var (
		req  *http.Request
		err  error
		want = http.StatusOK
	)
	if m.post != nil {
		req, err = http.NewRequest(http.MethodPost, base+"/api/items", strings.NewReader(m.post(run)))
		if req != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		want = http.StatusCreated
	} else {
		req, err = http.NewRequest(http.MethodGet, base+m.path, nil)
	}
	if err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != want {
		return 0, fmt.Errorf("status %d, want %d", res.StatusCode, want)
	}
	return took, nil
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	rank := int(math.Ceil(q * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func msec(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// report prints the figures as a Markdown table, with the targets.
func report(out io.Writer, mss []*measurement, s settings, load loadInfo, m machineInfo) {
	fmt.Fprintf(out, "\n%d items; loaded in %s; trigram index built CONCURRENTLY in %s (%s, %s)\n",
		load.Rows, load.Load.Round(time.Second), load.Index.Round(100*time.Millisecond), load.IndexSize,
		map[bool]string{false: "fastupdate = off", true: "fastupdate = on"}[s.FastUpdate])
	fmt.Fprintf(out, "machine: %d CPUs, %s, %s; PostgreSQL %s\n", m.CPUs, m.CPU, m.OS, m.Postgres)
	fmt.Fprintf(out, "medians of %d runs (after %d warm-up runs), milliseconds; p90 and max in brackets\n\n", s.Runs, s.Warmup)
	fmt.Fprintln(out, "| measurement | term | matches | store median [p90, max] | HTTP median [p90, max] | target | met |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---|")
	var missed []string
	for _, x := range mss {
		term, matches := "", ""
		if x.Term != "" {
			term, matches = "`"+x.Term+"`", strconv.Itoa(x.Matches)
		}
		cell := func(ds []time.Duration) string {
			if len(ds) == 0 {
				return "-"
			}
			return fmt.Sprintf("%s [%s, %s]", msec(quantile(ds, 0.5)), msec(quantile(ds, 0.9)), msec(slices.Max(ds)))
		}
		target, met := "-", "-"
		if x.Target > 0 {
			target = "≤ " + msec(x.Target)
			met = "yes"
			for level, ds := range map[string][]time.Duration{"store": x.storeTimes, "HTTP": x.httpTimes} {
				if len(ds) > 0 && quantile(ds, 0.5) > x.Target {
					met = "NO"
					missed = append(missed, x.Name+" ("+level+")")
				}
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Name, term, matches, cell(x.storeTimes), cell(x.httpTimes), target, met)
	}
	slices.Sort(missed)
	if len(missed) == 0 {
		fmt.Fprintln(out, "\nall targets met")
	} else {
		fmt.Fprintln(out, "\ntargets MISSED:", strings.Join(missed, ", "))
	}
}
