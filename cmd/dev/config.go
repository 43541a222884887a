package main

import (
	"time"

	"example.com/example-function/internal/config"
)

// dbConfig is a small pool for one-off setup work.
func dbConfig(url string) config.Database {
	return config.Database{URL: url, MaxConns: 2, ConnectTimeout: 5 * time.Second,
		MaxConnLifetime: time.Minute, MaxConnIdleTime: time.Minute, HealthCheckPeriod: time.Minute}
}
