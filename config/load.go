package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Options carries the checks that config cannot make itself because they
// belong to another package. cmd/ferry wires deploy.ValidateSet and
// deploy.ValidateSetString, so Helm's own `--set` parser judges the entries.
// A nil function leaves those entries unchecked.
type Options struct {
	ValidateSet       func(expr string) error
	ValidateSetString func(expr string) error
}

// Load reads, decodes, defaults and validates the config file at path. Relative
// file paths in it (secret files, kubeconfigs) are resolved against the
// file's directory. On any problem it returns a nil Config and Problems,
// listing every problem in the file.
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.resolveFiles(dir)
	return c, nil
}

// Parse decodes, defaults and validates config text; file names it in
// problems. File paths in it are left as written.
func Parse(file string, data []byte, opts Options) (*Config, error) {
	d := &decoder{file: file, lines: map[string]int{}}
	c := &Config{}
	applyDefaults(reflect.ValueOf(c).Elem())
	root := d.document(data)
	if root == nil {
		return nil, d.problems
	}
	d.value(root, reflect.ValueOf(c).Elem(), "")
	if d.tooLarge {
		return nil, d.problems.sorted().capped(file)
	}
	c.src = &source{file: file, lines: d.lines}
	c.applyDerivedDefaults()
	problems := d.problems
	var found Problems
	if !errors.As(c.Validate(opts), &found) {
		found = nil
	}
	reported := problems.paths()
	for _, p := range found {
		if !covered(reported, p.Path) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, problems.sorted().capped(file)
	}
	return c, nil
}

// yamlLine finds the line in the YAML library's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses the single YAML document of a config file. An empty file
// yields an empty mapping, so that the missing keys are reported.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := d.parse(dec, &doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(err)
			return nil
		}
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}
	}
	var next yaml.Node
	switch err := d.parse(dec, &next); {
	case err == nil:
		d.add(next.Line, "", "only one YAML document is allowed; this file has another one from line %d", next.Line)
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}
	}
	return doc.Content[0]
}

// parse runs the YAML parser, turning a panic inside it into an error: a
// broken file must be reported, never crash the daemon.
func (d *decoder) parse(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(n)
}

func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	d.add(0, "", "invalid YAML: %s", msg)
}

// resolveFiles makes the relative host file paths absolute against dir.
// Repository paths (chart, values) stay relative to the repository root.
func (c *Config) resolveFiles(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		abs(&p.Source.Auth.TokenFile)
		abs(&p.Source.Auth.SSHKeyFile)
		abs(&p.Source.Auth.KnownHostsFile)
		if p.Source.Webhook != nil {
			abs(&p.Source.Webhook.SecretFile)
		}
		for j := range p.Environments {
			abs(&p.Environments[j].Kubeconfig)
		}
	}
	if c.Chat.Slack != nil {
		abs(&c.Chat.Slack.TokenFile)
		abs(&c.Chat.Slack.SigningSecretFile)
	}
	abs(&c.Server.APITokensFile)
	abs(&c.State.Kubeconfig)
}
