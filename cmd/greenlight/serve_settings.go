package main

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/greenlight/greenlight/specs"
)

// maxSettingsFile bounds the settings file greenlight serve reads.
const maxSettingsFile = 64 << 10

// settingValue is one setting of the file, with where it was written.
type settingValue struct {
	value        string
	line, column int
}

// readSettings reads greenlight serve's settings file: a YAML mapping whose keys are the flags'
// names and whose values are scalars. An unknown key or a value that is not a scalar is an
// error at its file:line:col.
func readSettings(path string, known func(name string) bool) (map[string]settingValue, error) {
	data, err := specs.ReadFileLimited(path, maxSettingsFile)
	if err != nil {
		return nil, fmt.Errorf("--config-file %s: %v", path, describeOpenError(err))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("--config-file %s: %v", path, err)
	}
	out := map[string]settingValue{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: want a mapping of settings (listen: 127.0.0.1:8080 …)", path, root.Line, root.Column)
	}
	var problems []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case !known(k.Value):
			problems = append(problems, fmt.Errorf("%s:%d:%d: unknown setting %q (the settings are greenlight serve's flags)", path, k.Line, k.Column, k.Value))
		case v.Kind != yaml.ScalarNode:
			problems = append(problems, fmt.Errorf("%s:%d:%d: %s: want a single value", path, v.Line, v.Column, k.Value))
		default:
			if _, dup := out[k.Value]; dup {
				problems = append(problems, fmt.Errorf("%s:%d:%d: %s is set twice", path, k.Line, k.Column, k.Value))
			}
			out[k.Value] = settingValue{value: v.Value, line: v.Line, column: v.Column}
		}
	}
	return out, errors.Join(problems...)
}
