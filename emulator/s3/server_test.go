package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

const sample = "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"

// start serves a Server seeded from a temporary fixtures dir.
func start(t *testing.T, tls bool) (*Server, *httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sample.ndjson"), []byte(sample), 0o644)
	os.MkdirAll(filepath.Join(dir, "connectors"), 0o755)
	os.WriteFile(filepath.Join(dir, "connectors", "rudder.ndjson.gz"), []byte("\x1f\x8bnot really"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a fixture"), 0o644)
	s, err := New(Config{FixturesDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(s)
	} else {
		srv = httptest.NewServer(s)
	}
	t.Cleanup(srv.Close)
	return s, srv, dir
}

// sdkClient is a default-configured SDK v2 client, as a user writes it:
// flexible checksums stay at their defaults.
func sdkClient(t *testing.T, srv *httptest.Server) *awss3.Client {
	t.Helper()
	// Keep the machine's AWS settings out: a CA bundle would replace the
	// test server's certificate pool.
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithHTTPClient(srv.Client()),
	)
	if err != nil {
		t.Fatal(err)
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
}

func TestServer_SeedsFixtures(t *testing.T) {
	s, srv, _ := start(t, false)
	objs, err := s.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys(objs)) != "[connectors/rudder.ndjson.gz sample.ndjson]" {
		t.Fatalf("objects = %v", objs)
	}
	resp, err := http.Get(srv.URL + "/test-bucket/sample.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != sample {
		t.Fatalf("GET = %q", body)
	}
}

func keys(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func TestServer_PlainHTTPHeadAndRange(t *testing.T) {
	_, srv, _ := start(t, false)
	resp, err := http.Head(srv.URL + "/test-bucket/sample.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != int64(len(sample)) {
		t.Fatalf("HEAD Content-Length = %d", resp.ContentLength)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/test-bucket/sample.ndjson", nil)
	req.Header.Set("Range", "bytes=9-17")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(body) != "{\"id\":2}\n" || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 9-17/%d", len(sample)) {
		t.Fatalf("ranged GET: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
}

// onlyReader hides Seek so the SDK must stream the body.
type onlyReader struct{ io.Reader }

func TestServer_DefaultSDKClientRoundTrips(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			_, srv, _ := start(t, useTLS)
			c := sdkClient(t, srv)
			ctx := context.Background()
			payload := strings.Repeat("{\"k\":\"0123456789\"}\n", 50000) // ~1 MB, several chunks

			if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("seekable.ndjson"), Body: bytes.NewReader([]byte(payload))}); err != nil {
				t.Fatalf("PutObject seekable: %v", err)
			}
			keys := []string{"seekable.ndjson"}
			// The SDK itself refuses an unseekable body over plain HTTP
			// ("unseekable stream is not supported without TLS and
			// trailing checksum"); over TLS it sends an aws-chunked body
			// with a CRC32 trailer.
			if useTLS {
				if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("streamed.ndjson"),
					Body: onlyReader{strings.NewReader(payload)}, ContentLength: aws.Int64(int64(len(payload)))}); err != nil {
					t.Fatalf("PutObject streaming: %v", err)
				}
				keys = append(keys, "streamed.ndjson")
			}
			for _, key := range keys {
				out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("GetObject %s: %v", key, err)
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil || string(got) != payload {
					t.Fatalf("GetObject %s: %d bytes, err %v (stored with chunk framing?)", key, len(got), err)
				}
				out, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String(key), Range: aws.String("bytes=19-37")})
				if err != nil {
					t.Fatalf("ranged GetObject %s: %v", key, err)
				}
				got, err = io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil || string(got) != payload[19:38] {
					t.Fatalf("ranged GetObject %s = %q, %v", key, got, err)
				}
				head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String(key)})
				if err != nil || aws.ToInt64(head.ContentLength) != int64(len(payload)) {
					t.Fatalf("HeadObject %s: %v, length %d", key, err, aws.ToInt64(head.ContentLength))
				}
			}
			list, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("test-bucket")})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range list.Contents {
				names = append(names, aws.ToString(o.Key))
			}
			if want := fmt.Sprint(append([]string{"connectors/rudder.ndjson.gz", "sample.ndjson"}, keys...)); fmt.Sprint(names) != want {
				t.Fatalf("ListObjectsV2 = %v", names)
			}

			presigned, err := awss3.NewPresignClient(c).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("sample.ndjson")}, awss3.WithPresignExpires(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(presigned.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != sample || !strings.Contains(presigned.URL, "X-Amz-Signature") {
				t.Fatalf("presigned GET %s: %d %q", presigned.URL, resp.StatusCode, body)
			}
		})
	}
}
