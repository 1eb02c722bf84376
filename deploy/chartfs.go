package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// loadChart reads the chart directory dir (a cleaned repository path) from
// fsys the way `helm template DIR` reads it from disk: .helmignore and Helm's
// default ignore rules apply, symbolic links are followed (but only inside
// the repository), byte-order marks are dropped and oversized files refused.
func loadChart(fsys fs.FS, dir string) (*chart.Chart, error) {
	realDir, err := repoPath(fsys, dir)
	if err != nil {
		return nil, err
	}
	rules := ignore.Empty()
	if data, err := fs.ReadFile(fsys, path.Join(realDir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(dir, ignore.HelmIgnore), err)
		}
	}
	rules.AddDefaults()

	var files []*loader.BufferedFile
	if err := walkChart(fsys, rules, realDir, "", &files); err != nil {
		return nil, fmt.Errorf("read chart %s: %w", dir, err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return c, nil
}

// walkChart collects the files under realDir, naming them by their path
// relative to the chart root (rel) as Helm does.
func walkChart(fsys fs.FS, rules *ignore.Rules, realDir, rel string, out *[]*loader.BufferedFile) error {
	entries, err := fs.ReadDir(fsys, realDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		real := path.Join(realDir, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			if real, err = resolveInRepo(fsys, real); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		info, err := fs.Stat(fsys, real)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rules.Ignore(name, info) {
			continue
		}
		if info.IsDir() {
			if err := walkChart(fsys, rules, real, name, out); err != nil {
				return err
			}
			continue
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", name)
		}
		if info.Size() > loader.MaxDecompressedFileSize {
			return fmt.Errorf("%s: larger than Helm's limit of %d bytes", name, loader.MaxDecompressedFileSize)
		}
		data, err := fs.ReadFile(fsys, real)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*out = append(*out, &loader.BufferedFile{Name: name, Data: bytes.TrimPrefix(data, utf8BOM)})
	}
	return nil
}
