package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	emus3 "github.com/amperity/lambda-runner-go/emulator/s3"
	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// dataAPIStandIn speaks the Redshift Data API (awsJson1_1) for one table:
// COPY reads the staged file from the S3 emulator, as Redshift reads it
// from S3, and adds its rows; statements run for a poll or two first.
type dataAPIStandIn struct {
	s3URL string

	mu         sync.Mutex
	rows       int64
	statements map[string]*statement
	executed   []string
	polls      int
}

type statement struct {
	sql     string
	status  string
	pending int
	err     string
	result  int64
}

var copyFrom = regexp.MustCompile(`^COPY (\S+) FROM 's3://([^/]+)/([^']+)' IAM_ROLE 'arn:aws:iam::1:role/copy'`)

func (d *dataAPIStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]string
	json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	d.mu.Lock()
	defer d.mu.Unlock()
	switch r.Header.Get("X-Amz-Target") {
	case "RedshiftData.ExecuteStatement":
		if in["Database"] != "dev" || in["WorkgroupName"] != "wg" {
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ValidationException","Message":"bad target"}`)
			return
		}
		id := fmt.Sprintf("st-%d", len(d.statements)+1)
		st := &statement{sql: in["Sql"], status: "STARTED", pending: 1}
		d.statements[id] = st
		d.executed = append(d.executed, st.sql)
		switch {
		case strings.HasPrefix(st.sql, "SELECT COUNT(*) FROM public.customers"):
			st.result = d.rows
		case copyFrom.MatchString(st.sql):
			m := copyFrom.FindStringSubmatch(st.sql)
			resp, err := http.Get(d.s3URL + "/" + m[2] + "/" + m[3])
			if err != nil || resp.StatusCode != 200 {
				st.err = "S3ServiceException: The specified key does not exist"
				break
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "not-a-date") {
				st.err = "Load into table 'customers' failed. Check 'sys_load_error_detail' system table for details."
				break
			}
			d.rows += int64(strings.Count(string(body), "\n"))
		default:
			st.err = "syntax error at or near " + st.sql
		}
		fmt.Fprintf(w, `{"Id":%q}`, id)
	case "RedshiftData.DescribeStatement":
		st := d.statements[in["Id"]]
		d.polls++
		if st.pending > 0 {
			st.pending--
		} else if st.err != "" {
			st.status = "FAILED"
		} else {
			st.status = "FINISHED"
		}
		json.NewEncoder(w).Encode(map[string]any{"Id": in["Id"], "Status": st.status, "Error": st.err})
	case "RedshiftData.GetStatementResult":
		st := d.statements[in["Id"]]
		fmt.Fprintf(w, `{"Records":[[{"longValue":%d}]],"TotalNumRows":1}`, st.result)
	default:
		w.WriteHeader(400)
	}
}

func awsConfig(t *testing.T) aws.Config {
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func setup(t *testing.T) (*sink, *dataAPIStandIn, *emus3.Server) {
	store, err := emus3.New(emus3.Config{Bucket: "staging", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(store)
	t.Cleanup(s3srv.Close)
	data := &dataAPIStandIn{s3URL: s3srv.URL, statements: map[string]*statement{}, rows: 7}
	datasrv := httptest.NewServer(data)
	t.Cleanup(datasrv.Close)
	cfg := awsConfig(t)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s3srv.URL); o.UsePathStyle = true })
	dc := redshiftdata.NewFromConfig(cfg, func(o *redshiftdata.Options) { o.BaseEndpoint = aws.String(datasrv.URL) })
	return newSink(s3c, dc, settings{Bucket: "staging", Prefix: "amperity/", Table: "public.customers", Database: "dev",
		Workgroup: "wg", IAMRole: "arn:aws:iam::1:role/copy", PollFirst: 1}), data, store
}

func batch(seq int, lines ...string) *runner.Batch {
	b := &runner.Batch{Seq: seq, Request: &runner.Request{WebhookID: "wh-rs"}}
	for i, l := range lines {
		b.Records = append(b.Records, runner.Record{Line: int64(i + 1), Raw: []byte(l)})
	}
	return b
}

func TestRedshift_StagesCopiesAndChecksCounts(t *testing.T) {
	s, data, store := setup(t)
	if err := s.Send(context.Background(), batch(1, `{"id":"a"}`, `{"id":"b"}`, `{"id":"c"}`)); err != nil {
		t.Fatal(err)
	}
	if data.rows != 10 {
		t.Fatalf("table has %d rows, want 7+3", data.rows)
	}
	if len(data.executed) != 3 || !strings.HasPrefix(data.executed[1], "COPY public.customers FROM 's3://staging/amperity/wh-rs/batch-000001.ndjson'") {
		t.Fatalf("statements %q", data.executed)
	}
	if data.polls < 6 {
		t.Errorf("statements were not polled until finished (%d polls)", data.polls)
	}
	if objs, _ := store.Objects(); len(objs) != 0 {
		t.Errorf("staged file not deleted: %v", objs)
	}
}

func TestRedshift_FailedCopyReportsTheStatementError(t *testing.T) {
	s, data, _ := setup(t)
	err := s.Send(context.Background(), batch(2, `{"id":"a","born":"not-a-date"}`))
	if err == nil || runner.IsFatal(err) || !strings.Contains(err.Error(), "Load into table 'customers' failed") {
		t.Fatalf("err = %v", err)
	}
	if data.rows != 7 {
		t.Fatalf("rows changed: %d", data.rows)
	}
}

func TestRedshift_RowCountMismatchIsAnError(t *testing.T) {
	s, data, _ := setup(t)
	// Another load lands between the counts.
	orig := data.rows
	s.data = interceptCopy{dataAPI: s.data, after: func() { data.mu.Lock(); data.rows += 5; data.mu.Unlock() }}
	err := s.Send(context.Background(), batch(3, `{"id":"a"}`))
	if err == nil || !strings.Contains(err.Error(), "loaded 6 rows for 1 records") || data.rows != orig+6 {
		t.Fatalf("err = %v", err)
	}
}

// interceptCopy runs after when a COPY has been submitted.
type interceptCopy struct {
	dataAPI
	after func()
}

func (c interceptCopy) ExecuteStatement(ctx context.Context, in *redshiftdata.ExecuteStatementInput, o ...func(*redshiftdata.Options)) (*redshiftdata.ExecuteStatementOutput, error) {
	out, err := c.dataAPI.ExecuteStatement(ctx, in, o...)
	if strings.HasPrefix(aws.ToString(in.Sql), "COPY") {
		c.after()
	}
	return out, err
}

func TestRedshift_SettingsAreValidated(t *testing.T) {
	vars := map[string]string{"REDSHIFT_TABLE": "customers; DROP TABLE x", "REDSHIFT_CLUSTER": "c"}
	_, err := loadSettings(&runner.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }})
	for _, want := range []string{"STAGING_BUCKET is required", "REDSHIFT_DATABASE is required", "COPY_IAM_ROLE is required",
		"is not a table name", "REDSHIFT_CLUSTER needs REDSHIFT_DB_USER or REDSHIFT_SECRET_ARN"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v lacks %q", err, want)
		}
	}
}
