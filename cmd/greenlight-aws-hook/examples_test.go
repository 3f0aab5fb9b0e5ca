package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const deployDir = "../../deploy"

// TestCodeDeployAppspecs: every hook the examples name is a function CodeDeploy's managed role
// may invoke.
func TestCodeDeployAppspecs(t *testing.T) {
	for _, file := range []string{"appspec-ecs.yaml", "appspec-lambda.yaml"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(deployDir, "codedeploy", file))
			require.NoError(t, err)
			var spec struct {
				Version   float64             `yaml:"version"`
				Resources []map[string]any    `yaml:"Resources"`
				Hooks     []map[string]string `yaml:"Hooks"`
			}
			require.NoError(t, yaml.Unmarshal(b, &spec))
			require.Len(t, spec.Resources, 1)
			require.NotEmpty(t, spec.Hooks)
			for _, h := range spec.Hooks {
				for event, fn := range h {
					assert.Contains(t, []string{"AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}, event)
					assert.True(t, strings.HasPrefix(fn, "CodeDeployHook_"), "%s: %s", event, fn)
				}
			}
		})
	}
}

func TestIAMPolicies(t *testing.T) {
	for file, action := range map[string]string{
		"codedeploy/iam/daemon-policy.json":        "codedeploy:PutLifecycleEventHookExecutionStatus",
		"codedeploy/iam/hook-function-policy.json": "codedeploy:PutLifecycleEventHookExecutionStatus",
		"ecs/invoke-hook-role-policy.json":         "lambda:InvokeFunction",
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(deployDir, file))
			require.NoError(t, err)
			var policy struct {
				Version   string
				Statement []struct {
					Effect   string
					Action   any
					Resource any
				}
			}
			require.NoError(t, json.Unmarshal(b, &policy))
			assert.Equal(t, "2012-10-17", policy.Version)
			assert.Equal(t, action, policy.Statement[0].Action)
			assert.NotEqual(t, "*", policy.Statement[0].Resource, "the minimal policy names its resources")
		})
	}
}

func TestECSDeploymentConfiguration(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "ecs", "deployment-configuration.json"))
	require.NoError(t, err)
	var cfg struct {
		DeploymentConfiguration struct {
			Strategy       string
			LifecycleHooks []struct {
				TargetType           ecstypes.DeploymentLifecycleHookTargetType
				HookTargetArn        string
				RoleArn              string
				LifecycleStages      []ecstypes.DeploymentLifecycleHookStage
				TimeoutConfiguration struct {
					TimeoutInMinutes int
					Action           ecstypes.DeploymentLifecycleHookAction
				}
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	require.NoError(t, dec.Decode(&cfg))
	assert.Equal(t, "BLUE_GREEN", cfg.DeploymentConfiguration.Strategy)
	require.Len(t, cfg.DeploymentConfiguration.LifecycleHooks, 1)
	h := cfg.DeploymentConfiguration.LifecycleHooks[0]
	assert.Contains(t, ecstypes.DeploymentLifecycleHookTargetType("").Values(), h.TargetType)
	for _, s := range h.LifecycleStages {
		assert.Contains(t, ecstypes.DeploymentLifecycleHookStage("").Values(), s)
	}
	assert.Contains(t, ecstypes.DeploymentLifecycleHookAction("").Values(), h.TimeoutConfiguration.Action)
	assert.True(t, h.TimeoutConfiguration.TimeoutInMinutes >= 1 && h.TimeoutConfiguration.TimeoutInMinutes <= 1440)
}

// TestValidateServiceScript runs the EC2 ValidateService script with a greenlight that records
// its arguments and exits with a given code: the script passes the verdict's code on as its
// own, which is what CodeDeploy judges the lifecycle event by.
func TestValidateServiceScript(t *testing.T) {
	script, err := filepath.Abs(filepath.Join(deployDir, "codedeploy", "scripts", "validate-service.sh"))
	require.NoError(t, err)
	for _, code := range []int{0, 1, 2, 4} {
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		require.NoError(t, os.Mkdir(bin, 0o755))
		args := filepath.Join(dir, "args")
		require.NoError(t, os.WriteFile(filepath.Join(bin, "greenlight"),
			[]byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > "+args+"\nexit "+string(rune('0'+code))+"\n"), 0o755))
		cmd := exec.Command("/bin/sh", script)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "DEPLOYMENT_ID=d-EC2TEST", "LIFECYCLE_EVENT=ValidateService",
			"APPLICATION_NAME=checkout", "DEPLOYMENT_GROUP_NAME=production",
			"GREENLIGHT_BASELINE=https://checkout.example.com", "GREENLIGHT_REPORTS=" + filepath.Join(dir, "reports")}
		out, err := cmd.CombinedOutput()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else {
			require.NoError(t, err, "%s", out)
		}
		assert.Equal(t, code, got, "%s", out)
		assert.Contains(t, string(out), "greenlight: checkout/production deployment d-EC2TEST, ValidateService")
		recorded, err := os.ReadFile(args)
		require.NoError(t, err)
		assert.Equal(t, []string{"verify", "/etc/greenlight/analysis.yaml",
			"--env", "blue=https://checkout.example.com", "--env", "green=http://127.0.0.1:8080",
			"--baseline", "blue", "--candidate", "green",
			"--report", "json=" + filepath.Join(dir, "reports", "d-EC2TEST.json"), "--report", "junit=" + filepath.Join(dir, "reports", "d-EC2TEST.xml")},
			slices.DeleteFunc(strings.Split(string(recorded), "\n"), func(s string) bool { return s == "" }))
	}
}
