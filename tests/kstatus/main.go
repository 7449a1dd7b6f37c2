// Command kstatus prints what sigs.k8s.io/cli-utils/pkg/kstatus/status (the health library Flux uses
// for `wait: true` and for its health checks) computes for Kubernetes objects.
//
// It reads a stream of JSON objects from stdin (each one as the apiserver returned it) and writes one
// JSON line per object to stdout: {"status": "InProgress|Current|Failed|Terminating|Unknown|NotFound",
// "message": "..."}. A malformed input object is a fatal error (exit 1, message on stderr), never a
// silent default. Built and cached by xtask (xtask/src/kstatus.rs); used by tests/gitops_health.rs.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// cliUtils is the module whose kstatus this program runs; -version prints the version it was built with.
const cliUtils = "sigs.k8s.io/cli-utils"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-version" {
		fmt.Println(moduleVersion(cliUtils))
		return
	}
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: kstatus < objects.json   (or: kstatus -version)")
		os.Exit(2)
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	decoder := json.NewDecoder(bufio.NewReader(in))
	writer := bufio.NewWriter(out)
	defer writer.Flush()
	encoder := json.NewEncoder(writer)
	for index := 0; ; index++ {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("object %d: %w", index, err)
		}
		// Decoded by apimachinery's unstructured JSON decoding, as a client (Flux) decodes what it reads
		// from the apiserver: integers become int64, so status.observedGeneration is read as kstatus reads
		// it from a cluster.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("object %d is not a Kubernetes object: %w", index, err)
		}
		res, err := status.Compute(obj)
		if err != nil {
			return fmt.Errorf("object %d (%s %s): %w", index, obj.GetKind(), obj.GetName(), err)
		}
		if err := encoder.Encode(result{Status: res.Status.String(), Message: res.Message}); err != nil {
			return err
		}
	}
}

// moduleVersion is the version of module path in this binary's build information ("unknown" without).
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			return dep.Version
		}
	}
	return "unknown"
}
