// Command huawei-sdk-contract drives edgefleet-emulator with the official Huawei Cloud Go SDK
// (github.com/huaweicloud/huaweicloud-sdk-go-v3): every operation of a service's SDK client is called
// with the SDK's own signing and parsed into the SDK's own models, and failures (bad credentials, unknown
// resources) must come back as the SDK's *sdkerr.ServiceResponseError with the documented status and
// code and a request id.
//
// One file per service (iec.go, workspace.go; modelarts.go when the emulator has that family)
// registers a suite with register(); a service on a listener of its own reads its URL from
// Env.Listeners. Each suite names its SDK client type, so the operations
// "in the SDK" are counted by reflection and an operation the suite forgets to call fails the run.
//
// Usage: huawei-sdk-contract -endpoint http://127.0.0.1:PORT [-listener workspace=URL ...] [-ak AK -sk SK]
// [-report FILE] [-suite NAME]
// Exit status 0 when every operation of every selected suite passed and every check passed.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
)

// Env is what a suite gets: the emulator's base URL and the credentials it accepts.
type Env struct {
	Endpoint string
	AK       string
	SK       string
	// DomainID is the account the AK belongs to; a suite whose discovery check fails goes on with it,
	// so one broken IAM call does not hide the state of every other operation.
	DomainID string
	// Listeners are the base URLs of the emulator's other clouds by name ("workspace", ...), from the
	// repeatable -listener name=URL flag (xtask passes every listener the emulator printed).
	Listeners map[string]string
}

// listenerFlags is the repeatable -listener name=URL flag.
type listenerFlags map[string]string

func (l listenerFlags) String() string { return fmt.Sprint(map[string]string(l)) }

func (l listenerFlags) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want name=URL, got %q", v)
	}
	l[name] = strings.TrimRight(url, "/")
	return nil
}

// Suite is one service's contract: Client is a nil pointer of the SDK's client type (its exported
// methods taking one request and returning (response, error) are the operations in the SDK). Scope,
// when set, names the operations the emulator emulates (a service whose SDK client is far larger than
// what edgefleet uses, e.g. WorkspaceApp): only those must be called and pass; the others are counted
// in the SDK's total and reported as out of scope.
type Suite struct {
	Cloud   string
	Service string
	Package string
	Client  interface{}
	Scope   []string
	Run     func(env Env, r *Recorder)
}

// inScope keeps the operations of ops named in scope (all when scope is empty) and returns the scope
// names that are no operation of the SDK.
func inScope(ops, scope []string) (kept, unknown []string) {
	if len(scope) == 0 {
		return ops, nil
	}
	in := map[string]bool{}
	for _, o := range ops {
		in[o] = true
	}
	for _, name := range scope {
		if in[name] {
			kept = append(kept, name)
		} else {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(kept)
	return kept, unknown
}

var suites []Suite

func register(s Suite) { suites = append(suites, s) }

// Result of one operation or check.
type Result struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "pass", "fail", "not-served"
	Detail string `json:"detail,omitempty"`
}

// Recorder collects the results of a suite.
type Recorder struct {
	ops    map[string]*Result
	order  []string
	checks []Result
}

func newRecorder() *Recorder { return &Recorder{ops: map[string]*Result{}} }

// notServed reports whether err is the gateway's "no such API" answer.
func notServed(err error) bool {
	var se *sdkerr.ServiceResponseError
	return errors.As(err, &se) && se.StatusCode == 404 && se.ErrorCode == "APIGW.0101"
}

// Op runs one SDK operation; the first failure of an operation sticks (an operation may be called
// several times along the scenario).
func (r *Recorder) Op(name string, f func() error) bool {
	err := f()
	res, seen := r.ops[name]
	if !seen {
		res = &Result{Name: name, Status: "pass"}
		r.ops[name] = res
		r.order = append(r.order, name)
	}
	if err == nil {
		return true
	}
	if res.Status == "pass" {
		res.Detail = err.Error()
		if notServed(err) {
			res.Status = "not-served"
		} else {
			res.Status = "fail"
		}
	}
	fmt.Printf("  FAIL %s: %v\n", name, err)
	return false
}

// Check runs one contract check that is not an operation of its own (auth failures, error shapes).
func (r *Recorder) Check(name string, f func() error) {
	res := Result{Name: name, Status: "pass"}
	if err := f(); err != nil {
		res.Status, res.Detail = "fail", err.Error()
		fmt.Printf("  FAIL check %s: %v\n", name, err)
	}
	r.checks = append(r.checks, res)
}

// ExpectServiceError checks that err is the SDK's ServiceResponseError with this status and code and
// that it carries the request id the emulator sent.
func ExpectServiceError(err error, status int, code string) error {
	if err == nil {
		return fmt.Errorf("succeeded, want %d %s", status, code)
	}
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		return fmt.Errorf("error is %T (%v), not *sdkerr.ServiceResponseError", err, err)
	}
	if se.StatusCode != status || se.ErrorCode != code {
		return fmt.Errorf("got %d %s (%s), want %d %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, status, code)
	}
	if se.RequestId == "" {
		return fmt.Errorf("%d %s carries no X-Request-Id", status, code)
	}
	return nil
}

// sdkOperations lists the operations of an SDK client type by reflection.
func sdkOperations(client interface{}) []string {
	t := reflect.TypeOf(client)
	errType := reflect.TypeOf((*error)(nil)).Elem()
	var ops []string
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if strings.HasSuffix(m.Name, "Invoker") || m.Type.NumIn() != 2 || m.Type.NumOut() != 2 {
			continue
		}
		if m.Type.Out(1) != errType || m.Type.In(1).Kind() != reflect.Ptr {
			continue
		}
		ops = append(ops, m.Name)
	}
	sort.Strings(ops)
	return ops
}

// SuiteReport is one suite's part of the JSON report.
type SuiteReport struct {
	Cloud      string   `json:"cloud"`
	Service    string   `json:"service"`
	Package    string   `json:"package"`
	SDKOps     int      `json:"sdk_operations"`
	InScope    int      `json:"in_scope"`
	Served     int      `json:"served"`
	Passing    int      `json:"passing"`
	Results    []Result `json:"operations"`
	Checks     []Result `json:"checks"`
	NotCalled  []string `json:"not_called"`
	DurationMs int64    `json:"duration_ms"`
}

func main() {
	endpoint := flag.String("endpoint", "", "the emulator's base URL, e.g. http://127.0.0.1:8443")
	ak := flag.String("ak", "EMULATORAK0000000001", "access key the emulator accepts")
	sk := flag.String("sk", "EMULATORSK00000000000000000000000000000001", "its secret key")
	domainID := flag.String("domain-id", "0e1d7c9f8a6b4c3d2e1f0a9b8c7d6e5f", "the account (domain) id of that key")
	report := flag.String("report", "", "write the JSON report here")
	only := flag.String("suite", "", "run only the suite of this service (e.g. iec)")
	listeners := listenerFlags{}
	flag.Var(listeners, "listener", "another cloud's listener as name=URL (repeatable), e.g. workspace=http://127.0.0.1:8444")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "-endpoint is required")
		os.Exit(2)
	}
	env := Env{Endpoint: strings.TrimRight(*endpoint, "/"), AK: *ak, SK: *sk, DomainID: *domainID, Listeners: listeners}
	var reports []SuiteReport
	failed := false
	for _, s := range suites {
		if *only != "" && s.Service != *only {
			continue
		}
		fmt.Printf("suite %s %s (%s)\n", s.Cloud, s.Service, s.Package)
		start := time.Now()
		r := newRecorder()
		s.Run(env, r)
		rep := SuiteReport{Cloud: s.Cloud, Service: s.Service, Package: s.Package, Checks: r.checks}
		all := sdkOperations(s.Client)
		rep.SDKOps = len(all)
		ops, unknown := inScope(all, s.Scope)
		rep.InScope = len(ops)
		for _, name := range unknown {
			fmt.Printf("  FAIL scope names %s, not an operation of %s\n", name, s.Package)
			failed = true
		}
		for _, name := range ops {
			res, ok := r.ops[name]
			if !ok {
				rep.NotCalled = append(rep.NotCalled, name)
				failed = true
				continue
			}
			rep.Results = append(rep.Results, *res)
			if res.Status != "not-served" {
				rep.Served++
			}
			if res.Status == "pass" {
				rep.Passing++
			} else {
				failed = true
			}
		}
		for _, name := range r.order {
			found := false
			for _, o := range all {
				found = found || o == name
			}
			if !found {
				fmt.Printf("  FAIL %s is not an operation of %s\n", name, s.Package)
				failed = true
			}
		}
		for _, c := range r.checks {
			failed = failed || c.Status != "pass"
		}
		rep.DurationMs = time.Since(start).Milliseconds()
		fmt.Printf("suite %s %s: %d operations in the SDK (%d in scope), %d served, %d passing; %d checks, not called: %v (%d ms)\n",
			s.Cloud, s.Service, rep.SDKOps, rep.InScope, rep.Served, rep.Passing, len(r.checks), rep.NotCalled, rep.DurationMs)
		reports = append(reports, rep)
	}
	if len(reports) == 0 {
		fmt.Fprintf(os.Stderr, "no suite named %q\n", *only)
		os.Exit(2)
	}
	if *report != "" {
		data, err := json.MarshalIndent(reports, "", "  ")
		if err == nil {
			err = os.WriteFile(*report, data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "writing %s: %v\n", *report, err)
			os.Exit(2)
		}
	}
	if failed {
		os.Exit(1)
	}
}
