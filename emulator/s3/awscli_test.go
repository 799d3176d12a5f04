package s3

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServer_AWSCLI drives the real AWS CLI against the emulator: ls, an
// upload large enough to go multipart, and a download.
func TestServer_AWSCLI(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("aws CLI not found: .ci/run installs it (apt-get install awscli)")
		}
		t.Skip("aws CLI not installed (apt-get install awscli); skipping")
	}
	_, srv, _ := start(t, false)
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(awsPath, append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1"}, args...)...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_CA_BUNDLE=",
			"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
			"HOME="+home)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}

	if ls := run("s3", "ls", "s3://test-bucket/"); !strings.Contains(ls, "sample.ndjson") {
		t.Fatalf("aws s3 ls: %q", ls)
	}
	local := filepath.Join(t.TempDir(), "upload.ndjson")
	content := bytes.Repeat([]byte("{\"k\":\"some value here\"}\n"), 400000) // ~10 MB: multipart
	os.WriteFile(local, content, 0o644)
	run("s3", "cp", local, "s3://test-bucket/uploaded/upload.ndjson")
	back := filepath.Join(t.TempDir(), "back.ndjson")
	run("s3", "cp", "s3://test-bucket/uploaded/upload.ndjson", back)
	got, _ := os.ReadFile(back)
	if !bytes.Equal(got, content) {
		t.Fatalf("round trip through the AWS CLI: %d bytes back, want %d", len(got), len(content))
	}
}
