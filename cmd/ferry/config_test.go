package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// execFerry executes the ferry command line in-process and returns its output.
func execFerry(args ...string) (string, error) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		want     string
		wantCode int
		wantMsg  string
	}{
		{
			name: "valid file prints ok and one line per pipeline",
			file: "../../config/testdata/valid/full.yaml",
			want: "ok\nvibecode-platform: dev [health, loadTest] → staging [policy, health, loadTest] → prod [window, approval 1 of 2, policy, health]\n",
		},
		{
			name: "branching pipelines in promotion order",
			file: "../../config/testdata/valid/two-pipelines.yaml",
			want: "ok\nshop: dev [health] → qa [health] → prod [health]\nblog: live [health]\n",
		},
		{
			name: "invalid file prints every problem and exits 1",
			file: "../../config/testdata/invalid/loadtest-unreachable-min-requests.yaml",
			want: "../../config/testdata/invalid/loadtest-unreachable-min-requests.yaml:8: pipelines[0].environments[0].gates.loadTest.slo.p95: p95 (900ms) cannot be above p99 (500ms)\n" +
				"../../config/testdata/invalid/loadtest-unreachable-min-requests.yaml:8: pipelines[0].environments[0].gates.loadTest.slo.minRequests: 1000 can never be reached: rate 10/s for 30s sends 300 requests\n",
			wantCode: 1,
			wantMsg:  "../../config/testdata/invalid/loadtest-unreachable-min-requests.yaml: 2 problem(s)",
		},
		{
			name:     "set entries are judged by Helm's parser",
			file:     "../../config/testdata/invalid/set-helm-syntax.yaml",
			want:     "../../config/testdata/invalid/set-helm-syntax.yaml:7: pipelines[0].environments[0].set[0]: not a valid --set expression \"a=b,c\": key \"c\" has no value\n",
			wantCode: 1,
			wantMsg:  "../../config/testdata/invalid/set-helm-syntax.yaml: 1 problem(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := execFerry("config", "validate", "-f", tt.file)
			if out != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.want)
			}
			var exit exitError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Errorf("error = %v", err)
			case tt.wantCode != 0 && (!errors.As(err, &exit) || exit.code != tt.wantCode || exit.msg != tt.wantMsg):
				t.Errorf("error = %#v, want exit %d %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestConfigValidateMissingFile(t *testing.T) {
	_, err := execFerry("config", "validate", "-f", "testdata/none.yaml")
	if err == nil || err.Error() != "read config: open testdata/none.yaml: no such file or directory" {
		t.Errorf("error = %v", err)
	}
}

func TestConfigSchema(t *testing.T) {
	out, err := execFerry("config", "schema")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema     string         `json:"$schema"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || len(s.Properties) != 5 {
		t.Errorf("schema %q with %d top-level keys, want draft 2020-12 with 5", s.Schema, len(s.Properties))
	}
}
