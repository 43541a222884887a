package monitoring

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
)

// builtins are the Google Cloud metrics the files may name besides ours,
// each with the page that documents it.
var builtins = map[string]string{
	"run.googleapis.com/request_count":                    "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run",
	"run.googleapis.com/container/instance_count":         "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run",
	"run.googleapis.com/container/cpu/utilizations":       "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run",
	"run.googleapis.com/container/memory/utilizations":    "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run",
	"monitoring.googleapis.com/uptime_check/check_passed": "https://cloud.google.com/monitoring/api/metrics_gcp_i_o#gcp-monitoring",
}

// builtinResource is the monitored resource each built-in metric lives on.
var builtinResource = map[string]string{
	"run.googleapis.com":        "cloud_run_revision",
	"monitoring.googleapis.com": "uptime_url",
}

var strict = protojson.UnmarshalOptions{DiscardUnknown: false}

func parseFile(t *testing.T, path string, m proto.Message) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := strict.Unmarshal(b, m); err != nil {
		t.Fatalf("%s does not parse as %T: %v", path, m, err)
	}
}

var (
	metricTypeRE   = regexp.MustCompile(`metric\.type\s*=\s*"([^"]+)"`)
	resourceTypeRE = regexp.MustCompile(`resource\.type\s*=\s*"([^"]+)"`)
	metricLabelRE  = regexp.MustCompile(`metric\.labels?\."?([A-Za-z0-9_.]+)"?`)
)

// query is one filter with the group-by fields of its aggregations.
type query struct {
	where  string // message path, for error messages
	filter string
	groups []string
}

// queries walks any monitoring message and returns every filter with the
// groupByFields of the aggregations next to it (TimeSeriesFilter, ratio
// parts, alert conditions).
func queries(m protoreflect.Message, where string) []query {
	var out []query
	var filters, groups []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		switch {
		case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() && strings.HasSuffix(name, "filter"):
			filters = append(filters, v.String())
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				sub := l.Get(i).Message()
				if sub.Descriptor().FullName() == "google.monitoring.v3.Aggregation" ||
					sub.Descriptor().FullName() == "google.monitoring.dashboard.v1.Aggregation" {
					groups = append(groups, groupBy(sub)...)
				}
				out = append(out, queries(sub, where+"."+name)...)
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
			sub := v.Message()
			if strings.HasSuffix(string(sub.Descriptor().FullName()), ".Aggregation") {
				groups = append(groups, groupBy(sub)...)
			}
			out = append(out, queries(sub, where+"."+name)...)
		}
		return true
	})
	for _, f := range filters {
		out = append(out, query{where: where, filter: f, groups: groups})
	}
	return out
}

func groupBy(agg protoreflect.Message) []string {
	fd := agg.Descriptor().Fields().ByName("group_by_fields")
	l := agg.Get(fd).List()
	out := make([]string, 0, l.Len())
	for i := 0; i < l.Len(); i++ {
		out = append(out, l.Get(i).String())
	}
	return out
}

// checkQueries verifies every metric a file names and returns them.
func checkQueries(t *testing.T, file string, qs []query, ours map[string]emitted) []string {
	t.Helper()
	if len(qs) == 0 {
		t.Errorf("%s: no filters found", file)
	}
	var types []string
	for _, q := range qs {
		mt := metricTypeRE.FindAllStringSubmatch(q.filter, -1)
		if len(mt) != 1 {
			t.Errorf("%s %s: filter must name exactly one metric type: %s", file, q.where, q.filter)
			continue
		}
		typ := mt[0][1]
		types = append(types, typ)
		res := resourceTypeRE.FindStringSubmatch(q.filter)
		if e, ok := ours[typ]; ok {
			if res == nil || res[1] != "prometheus_target" {
				t.Errorf("%s: %s is written by the Telemetry API on prometheus_target; filter: %s", file, typ, q.filter)
			}
			labels := metricLabelRE.FindAllStringSubmatch(q.filter+" "+strings.Join(q.groups, " "), -1)
			for _, l := range labels {
				if !e.labels[l[1]] {
					t.Errorf("%s: %s (instrument %s) has no attribute %q; it has %v", file, typ, e.instrument, l[1], keys(e.labels))
				}
			}
			continue
		}
		if _, ok := builtins[typ]; ok {
			want := builtinResource[strings.SplitN(typ, "/", 2)[0]]
			if res == nil || res[1] != want {
				t.Errorf("%s: built-in %s lives on resource %s; filter: %s", file, typ, want, q.filter)
			}
			continue
		}
		t.Errorf("%s: metric %s is neither emitted by our instrumentation nor a documented built-in.\nemitted: %v", file, typ, keys(ours))
	}
	return types
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestMonitoringFiles(t *testing.T) {
	t.Parallel()
	ours := emittedMetrics(t)

	var dash dashboardpb.Dashboard
	parseFile(t, "dashboard.json", &dash)
	dashTypes := checkQueries(t, "dashboard.json", queries(dash.ProtoReflect(), "dashboard"), ours)
	if len(dash.GetMosaicLayout().GetTiles()) == 0 {
		t.Error("dashboard has no tiles")
	}

	// The dashboard shows what the issue asks for.
	p := func(name, kind string) string { return "prometheus.googleapis.com/" + name + "/" + kind }
	for _, want := range []string{
		"run.googleapis.com/request_count",
		"run.googleapis.com/container/instance_count",
		"run.googleapis.com/container/cpu/utilizations",
		"run.googleapis.com/container/memory/utilizations",
		p(telemetry.MetricHTTPDuration, "histogram"),
		p(telemetry.MetricHTTPRequests, "counter"),
		p(telemetry.MetricPoolAcquired, "gauge"),
		p(telemetry.MetricPoolIdle, "gauge"),
		p(telemetry.MetricPoolTotal, "gauge"),
		p(telemetry.MetricPoolAcquireWait, "counter"),
		p(items.MetricCreated, "counter"),
		p(telemetry.MetricAuthRefusals, "counter"),
	} {
		if !slices.Contains(dashTypes, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}

	alerts, err := filepath.Glob("alerts/*.json")
	if err != nil || len(alerts) == 0 {
		t.Fatalf("no alert files: %v", err)
	}
	var alertTypes []string
	for _, f := range alerts {
		var pol monitoringpb.AlertPolicy
		parseFile(t, f, &pol)
		if pol.GetDisplayName() == "" || len(pol.GetConditions()) == 0 || pol.GetDocumentation().GetContent() == "" {
			t.Errorf("%s: needs displayName, conditions and documentation", f)
		}
		alertTypes = append(alertTypes, checkQueries(t, f, queries(pol.ProtoReflect(), "policy"), ours)...)
	}
	for _, want := range []string{
		"run.googleapis.com/request_count",                    // 5xx ratio
		p(telemetry.MetricHTTPDuration, "histogram"),          // p99 latency
		"monitoring.googleapis.com/uptime_check/check_passed", // /healthz uptime
		"run.googleapis.com/container/instance_count",         // no instances
		p(telemetry.MetricAuthRefusals, "counter"),            // sign-in keys unavailable
		p(items.MetricDBTimeouts, "counter"),                  // database timeouts
	} {
		if !slices.Contains(alertTypes, want) {
			t.Errorf("no alert policy on %s", want)
		}
	}

	var up monitoringpb.UptimeCheckConfig
	parseFile(t, "uptime-healthz.json", &up)
	hc := up.GetHttpCheck()
	if hc.GetPath() != "/healthz" || !hc.GetUseSsl() || hc.GetPort() != 443 || up.GetMonitoredResource().GetType() != "uptime_url" {
		t.Errorf("uptime check must call https://HOST/healthz: %v", &up)
	}
}

func TestTelemetryAPIType(t *testing.T) {
	t.Parallel()
	ours := emittedMetrics(t)
	// Spot checks of the mapping on real instruments: kinds follow the
	// OTLP data type, names keep their dots.
	for _, want := range []string{
		"prometheus.googleapis.com/http.server.request.duration/histogram",
		"prometheus.googleapis.com/http.server.request.count/counter",
		"prometheus.googleapis.com/http.server.active_requests/gauge",
		"prometheus.googleapis.com/pgxpool.acquired_connections/gauge",
		"prometheus.googleapis.com/go.goroutine.count/gauge",
	} {
		if _, ok := ours[want]; !ok {
			t.Errorf("%s not among emitted types %v", want, keys(ours))
		}
	}
	if e := ours["prometheus.googleapis.com/http.server.request.duration/histogram"]; e.unit != "s" || !e.labels["http.route"] {
		t.Errorf("http.server.request.duration: unit %q labels %v", e.unit, keys(e.labels))
	}
}

// The sign-in alert counts exactly the refusals of a failed key fetch: its
// filter names the reason the auth package gives them.
func TestKeysUnavailableAlertReason(t *testing.T) {
	t.Parallel()
	var pol monitoringpb.AlertPolicy
	parseFile(t, "alerts/auth-keys-unavailable.json", &pol)
	filter := pol.GetConditions()[0].GetConditionThreshold().GetFilter()
	want := `metric.label."` + telemetry.AttrRefusalReason + `"="` + string(auth.ReasonKeysUnavailable) + `"`
	if !strings.Contains(filter, want) {
		t.Errorf("filter %s lacks %s", filter, want)
	}
}
