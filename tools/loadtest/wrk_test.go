package main

import (
	"testing"
	"time"
)

// Output of wrk 4.1.0 (Debian 12) with --latency, errors included.
const wrkSample = `Running 5s test @ http://127.0.0.1:40000/api/items?limit=50
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.25ms    6.08ms  98.21ms   86.11%
    Req/Sec     2.43k   210.45     2.80k    70.00%
  Latency Distribution
     50%   12.21ms
     75%   14.80ms
     90%   18.93ms
     99%    1.02s
  12094 requests in 5.00s, 166.53MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 17
Requests/sec:   2418.21
Transfer/sec:     33.29MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 12094, ReqPerSec: 2418.21, P50: 12210 * time.Microsecond, P99: 1020 * time.Millisecond,
		SocketErrors: 10, Non2xx: 17}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
}

func TestParseWrkMicroseconds(t *testing.T) {
	out := "  Latency Distribution\n     50%  812.00us\n     99%    2.50ms\n  100 requests in 1.00s, 1KB read\nRequests/sec:    100.00\n"
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.P50 != 812*time.Microsecond || r.P99 != 2500*time.Microsecond || r.SocketErrors != 0 || r.Non2xx != 0 {
		t.Errorf("parseWrk = %+v", r)
	}
}

func TestParseWrkRejectsOutputWithoutRate(t *testing.T) {
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted output without Requests/sec")
	}
}

func TestCPUList(t *testing.T) {
	got, err := cpuList("0,2-3", nil, 4)
	if err != nil || len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Errorf("cpuList(0,2-3) = %v, %v", got, err)
	}
	if _, err := cpuList("4", nil, 4); err == nil {
		t.Error("cpuList accepted a CPU the machine does not have")
	}
	if got, _ := cpuList("", []int{1}, 4); got != nil {
		t.Errorf(`cpuList("") = %v, want unpinned`, got)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	if p := percentile(ds, 90); p != 9 {
		t.Errorf("p90 = %v, want 9", p)
	}
	if p := percentile(ds, 50); p != 5 {
		t.Errorf("p50 = %v, want 5", p)
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc prints it.
	stat := "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 1270 0 0 0 250 37 0 0 20 0 8 0 1234 0 0\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2870 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
}

func TestStatCommPPID(t *testing.T) {
	name, ppid, ok := statCommPPID("77 (postgres) S 42 77 77 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 9 0 0\n")
	if !ok || name != "postgres" || ppid != 42 {
		t.Errorf("statCommPPID = %q, %d, %v", name, ppid, ok)
	}
}

// The ratio pairs each subject round with the reference round beside it:
// a machine that halves its speed for two rounds moves both sides, and
// the pairs still say 0.8.
func TestRatioPairsRounds(t *testing.T) {
	c := comparison{
		Sub: []wrkResult{{ReqPerSec: 800}, {ReqPerSec: 400}, {ReqPerSec: 400}, {ReqPerSec: 880}},
		Ref: []wrkResult{{ReqPerSec: 1000}, {ReqPerSec: 500}, {ReqPerSec: 500}, {ReqPerSec: 1000}},
	}
	if got := c.ratio(); got < 0.799 || got > 0.801 {
		t.Errorf("ratio = %.3f, want 0.80 (pairs 0.80 0.80 0.80 0.88)", got)
	}
	if got := len(c.pairedRatios()); got != 4 {
		t.Errorf("%d pairs, want 4", got)
	}
}
