package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests     int64
	ReqPerSec    float64
	P50, P99     time.Duration
	SocketErrors int64 // connect + read + write + timeout
	Non2xx       int64
	// ServerCPU is the CPU time the server used during the run (not
	// parsed from wrk: the load test reads it from /proc), over Wall, the
	// time between the two readings.
	ServerCPU, Wall time.Duration
}

// cpuPerRequest is the server's CPU cost of one request.
func (r wrkResult) cpuPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Requests)
}

// wrkOptions are the load parameters, the same for every server compared.
type wrkOptions struct {
	Threads     int
	Connections int
	Duration    time.Duration
	CPUs        []int // wrk's CPU affinity; nil leaves it unpinned
}

// errNoWrk tells the operator how to get the load generator.
var errNoWrk = errors.New("wrk not found on PATH: install it (Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)")

func findWrk() (string, error) {
	p, err := exec.LookPath("wrk")
	if err != nil {
		return "", errNoWrk
	}
	return p, nil
}

// runWrk loads url for o.Duration and parses the summary.
func runWrk(ctx context.Context, wrk, url string, o wrkOptions) (wrkResult, error) {
	args := []string{
		"-t" + strconv.Itoa(o.Threads),
		"-c" + strconv.Itoa(o.Connections),
		"-d" + wrkSeconds(o.Duration),
		"--latency", url,
	}
	cmd := exec.CommandContext(ctx, wrk, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startPinned(cmd, o.CPUs); err != nil {
		return wrkResult{}, fmt.Errorf("start wrk: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	r, err := parseWrk(out.String())
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return r, nil
}

var (
	reReqPerSec = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	reRequests  = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	rePercent   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	reSocket    = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx    = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's text summary (wrk 4.x with --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reReqPerSec.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("no Requests/sec line in wrk output")
	}
	r.ReqPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := reRequests.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := rePercent.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		d, err := wrkDuration(m[2], m[3])
		if err != nil {
			return r, err
		}
		if m[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if m := reSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

func wrkDuration(num, unit string) (time.Duration, error) {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("wrk latency %q: %w", num+unit, err)
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[unit]
	return time.Duration(math.Round(f * float64(scale))), nil
}

// wrkSeconds renders d for wrk's -d, which takes whole seconds only.
func wrkSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))) + "s"
}
