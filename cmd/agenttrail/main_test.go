package main

import (
	"bufio"
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFlagsFromEnvironmentAndConfig(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(config, []byte(`{"listen": "127.0.0.1:9000", "in-flight": 64, "data": "/from/config"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantData  string
		wantAddr  string
		wantLimit int
	}{
		{"defaults", nil, nil, "./agenttrail-data", "127.0.0.1:7700", 1024},
		{"config", []string{"--config", config}, nil, "/from/config", "127.0.0.1:9000", 64},
		{"env beats config", []string{"--config", config}, map[string]string{"AGENTTRAIL_DATA": "/from/env"}, "/from/env", "127.0.0.1:9000", 64},
		{"flag beats env", []string{"--data", "/from/flag"}, map[string]string{"AGENTTRAIL_DATA": "/from/env"}, "/from/flag", "127.0.0.1:7700", 1024},
		{"config from env", nil, map[string]string{"AGENTTRAIL_CONFIG": config}, "/from/config", "127.0.0.1:9000", 64},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		configFile := fs.String("config", "", "")
		data := fs.String("data", "./agenttrail-data", "")
		listen := fs.String("listen", "127.0.0.1:7700", "")
		inFlight := fs.Int("in-flight", 1024, "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		if err := applyDefaults(fs, *configFile, lookup); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if *data != tt.wantData || *listen != tt.wantAddr || *inFlight != tt.wantLimit {
			t.Errorf("%s: got data=%s listen=%s in-flight=%d, want %s %s %d", tt.name, *data, *listen, *inFlight, tt.wantData, tt.wantAddr, tt.wantLimit)
		}
	}
}

func TestConfigWithUnknownFlagIsRefused(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(config, []byte(`{"lisen": "x"}`), 0o600)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("listen", "", "")
	if err := applyDefaults(fs, config, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("applyDefaults with a misspelt key = %v, want an error naming it", err)
	}
}

func TestServeRefusesTheNetworkWithoutTLS(t *testing.T) {
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "0.0.0.0:0"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "without TLS") {
		t.Errorf("serve on 0.0.0.0 without TLS: exit %d, stderr %q; want 2 and a reason", code, errOut.String())
	}
}

func TestServeWithoutKeysSaysHowToCreateOne(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	data := t.TempDir()
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "off", "--log-level", "error"}, &out, &errOut)
	}()
	for !strings.Contains(out.String(), "agenttrail listening on") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		default:
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit status %d after its context ended, want 0", code)
	}
	for _, want := range []string{
		selfCommand() + " keys create --data " + data + " --principal admin --role admin",
		"Stop this server",
		"keys create --addr ADDR --key ADMIN_KEY",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve output %q does not say %q", out.String(), want)
		}
	}
}

// The hint names the command the way the server was started: the binary's
// path, or go run from a checkout.
func TestServeHintIsTheCommandTheUserRan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and go run")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		argv []string
		want string
	}{
		{"binary", []string{bin}, bin + " keys create --data "},
		{"go run", []string{"go", "run", "./cmd/agenttrail"}, "go run ./cmd/agenttrail keys create --data "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tt.argv[0], append(tt.argv[1:], "serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "off", "--log-level", "error")...)
			cmd.Dir = "../.."
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run's child goes too
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				// go run exits on SIGTERM before the server it started has
				// shut down: wait for the whole group, so that the data
				// directory is not removed under a server still closing
				// its store (Badger then retries its last flush for ever).
				syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				cmd.Wait()
				for deadline := time.Now().Add(30 * time.Second); syscall.Kill(-cmd.Process.Pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Errorf("the server started by %s did not stop within 30 s of SIGTERM", tt.name)
						syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
						break
					}
				}
			}()
			sc := bufio.NewScanner(stdout)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), "keys create") {
					break
				}
			}
			if out := strings.Join(lines, "\n"); !strings.Contains(out, tt.want+data+" --principal admin --role admin") {
				t.Errorf("serve printed:\n%s\nwant the hint %q", out, tt.want)
			}
		})
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRefusesHTTPOnTheNetworkWithoutTLS(t *testing.T) {
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--http-listen", "0.0.0.0:0"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "without TLS") {
		t.Errorf("serve --http-listen 0.0.0.0:0 without TLS: exit %d, stderr %q; want 2 and a reason", code, errOut.String())
	}
}

func TestServePrintsTheConsoleURLAndServesIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log-level", "error"}, &out, &errOut)
	}()
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
		if _, rest, ok := strings.Cut(out.String(), "web console: "); ok && strings.Contains(rest, "\n") {
			url, _, _ = strings.Cut(rest, "\n")
		}
	}
	for _, path := range []string{"healthz", ""} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s%s: %d", url, path, resp.StatusCode)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit status %d, want 0: %s", code, errOut.String())
	}
}
