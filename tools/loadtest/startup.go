package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"example.com/example-function/internal/localpg"
)

// startupResult is exec-to-first-200 over several runs.
type startupResult struct {
	Runs []time.Duration
	// DBStatus is what /healthz said about the database on the first 200.
	DBStatus string
}

// measureStartup starts s n times with the database unreachable and times
// from just before exec until the first 200 from /healthz. The poller runs
// on a thread pinned to pollCPUs so it does not steal the CPU the starting
// server runs on.
func measureStartup(ctx context.Context, s procSpec, n int, pollCPUs []int) (startupResult, error) {
	var res startupResult
	// One run first, not counted: it pages the binary into the cache.
	for i := -1; i < n; i++ {
		d, status, err := startOnce(ctx, s, pollCPUs)
		if err != nil {
			return res, err
		}
		if i >= 0 {
			res.Runs = append(res.Runs, d)
			res.DBStatus = status
		}
	}
	return res, nil
}

func startOnce(ctx context.Context, s procSpec, pollCPUs []int) (time.Duration, string, error) {
	port, err := localpg.FreePort()
	if err != nil {
		return 0, "", err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	out := &tail{}
	cmd := s.command(port)
	cmd.Stdout, cmd.Stderr = out, out

	type answer struct {
		d      time.Duration
		status string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		if len(pollCPUs) > 0 {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			var set unix.CPUSet
			for _, c := range pollCPUs {
				set.Set(c)
			}
			_ = unix.SchedSetaffinity(0, &set)
		}
		p := &proc{name: s.Name, cmd: cmd, out: out, done: make(chan error, 1)}
		start := time.Now()
		if err := startPinned(cmd, s.CPUs); err != nil {
			done <- answer{err: err}
			return
		}
		go func() { p.done <- cmd.Wait() }()
		deadline := start.Add(10 * time.Second)
		for {
			resp, err := client.Get(url)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					d := time.Since(start)
					var h struct {
						Database struct{ Status string } `json:"database"`
					}
					_ = json.Unmarshal(body, &h)
					err := p.stop()
					done <- answer{d: d, status: h.Database.Status, err: err}
					return
				}
			}
			select {
			case err := <-p.done:
				done <- answer{err: fmt.Errorf("%s exited before answering /healthz: %v\n%s", s.Name, err, out.String())}
				return
			default:
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				_ = p.stop()
				done <- answer{err: fmt.Errorf("%s: no 200 from /healthz within 10s\n%s", s.Name, out.String())}
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	a := <-done
	return a.d, a.status, a.err
}
