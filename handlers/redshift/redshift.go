package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type s3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

type dataAPI interface {
	ExecuteStatement(ctx context.Context, in *redshiftdata.ExecuteStatementInput, optFns ...func(*redshiftdata.Options)) (*redshiftdata.ExecuteStatementOutput, error)
	DescribeStatement(ctx context.Context, in *redshiftdata.DescribeStatementInput, optFns ...func(*redshiftdata.Options)) (*redshiftdata.DescribeStatementOutput, error)
	GetStatementResult(ctx context.Context, in *redshiftdata.GetStatementResultInput, optFns ...func(*redshiftdata.Options)) (*redshiftdata.GetStatementResultOutput, error)
}

type settings struct {
	Bucket, Prefix       string
	Table, Database      string
	Workgroup, Cluster   string
	DBUser, SecretArn    string
	IAMRole              string
	KeepStaged           bool
	PollFirst, PollLimit time.Duration
}

// identifier is what a table name may look like: it is written into SQL.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)

func loadSettings(env *runner.Env) (settings, error) {
	cfg := settings{
		Bucket:     env.Required("STAGING_BUCKET"),
		Prefix:     env.String("STAGING_PREFIX", "amperity/"),
		Table:      env.Required("REDSHIFT_TABLE"),
		Database:   env.Required("REDSHIFT_DATABASE"),
		Workgroup:  env.String("REDSHIFT_WORKGROUP", ""),
		Cluster:    env.String("REDSHIFT_CLUSTER", ""),
		DBUser:     env.String("REDSHIFT_DB_USER", ""),
		SecretArn:  env.String("REDSHIFT_SECRET_ARN", ""),
		IAMRole:    env.Required("COPY_IAM_ROLE"),
		KeepStaged: env.Bool("KEEP_STAGED_FILES", false),
	}
	errs := []error{env.Err()}
	if cfg.Table != "" && !identifier.MatchString(cfg.Table) {
		errs = append(errs, fmt.Errorf("REDSHIFT_TABLE=%q is not a table name (schema.table, letters, digits, _ and $)", cfg.Table))
	}
	if (cfg.Workgroup == "") == (cfg.Cluster == "") {
		errs = append(errs, errors.New("set one of REDSHIFT_WORKGROUP (Serverless) or REDSHIFT_CLUSTER (provisioned)"))
	}
	if cfg.Cluster != "" && cfg.DBUser == "" && cfg.SecretArn == "" {
		errs = append(errs, errors.New("REDSHIFT_CLUSTER needs REDSHIFT_DB_USER or REDSHIFT_SECRET_ARN"))
	}
	if strings.ContainsAny(cfg.IAMRole, "'\\") {
		errs = append(errs, errors.New("COPY_IAM_ROLE must be a role ARN"))
	}
	return cfg, errors.Join(errs...)
}

type sink struct {
	s3   s3API
	data dataAPI
	cfg  settings
}

func newSink(s3c s3API, data dataAPI, cfg settings) *sink {
	if cfg.PollFirst <= 0 {
		cfg.PollFirst = 100 * time.Millisecond
	}
	if cfg.PollLimit <= 0 {
		cfg.PollLimit = 5 * time.Second
	}
	return &sink{s3: s3c, data: data, cfg: cfg}
}

// Send stages the batch in S3 and COPYs it into the table.
func (s *sink) Send(ctx context.Context, b *runner.Batch) error {
	var body bytes.Buffer
	for _, r := range b.Records {
		body.Write(r.Raw)
		body.WriteByte('\n')
	}
	webhook := "job"
	if b.Request != nil {
		webhook = b.Request.WebhookID
	}
	key := fmt.Sprintf("%s%s/batch-%06d.ndjson", s.cfg.Prefix, webhook, b.Seq)
	if _, err := s.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body.Bytes()), ContentType: aws.String("application/x-ndjson")}); err != nil {
		return fmt.Errorf("staging s3://%s/%s: %w", s.cfg.Bucket, key, err)
	}
	before, err := s.count(ctx)
	if err != nil {
		return runner.Fatal(err)
	}
	copySQL := fmt.Sprintf("COPY %s FROM 's3://%s/%s' IAM_ROLE '%s' FORMAT AS JSON 'auto' TIMEFORMAT 'auto'",
		s.cfg.Table, s.cfg.Bucket, key, s.cfg.IAMRole)
	if _, err := s.run(ctx, copySQL); err != nil {
		return fmt.Errorf("COPY into %s: %w", s.cfg.Table, err)
	}
	after, err := s.count(ctx)
	if err != nil {
		return runner.Fatal(err)
	}
	if !s.cfg.KeepStaged {
		s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	}
	if loaded := after - before; loaded != int64(len(b.Records)) {
		return fmt.Errorf("COPY into %s loaded %d rows for %d records (another load running at the same time also changes the count)", s.cfg.Table, loaded, len(b.Records))
	}
	return nil
}

// count returns the table's row count.
func (s *sink) count(ctx context.Context) (int64, error) {
	id, err := s.run(ctx, "SELECT COUNT(*) FROM "+s.cfg.Table)
	if err != nil {
		return 0, fmt.Errorf("counting rows of %s: %w", s.cfg.Table, err)
	}
	out, err := s.data.GetStatementResult(ctx, &redshiftdata.GetStatementResultInput{Id: aws.String(id)})
	if err != nil {
		return 0, fmt.Errorf("counting rows of %s: %w", s.cfg.Table, err)
	}
	if len(out.Records) != 1 || len(out.Records[0]) != 1 {
		return 0, fmt.Errorf("counting rows of %s: unexpected result shape", s.cfg.Table)
	}
	n, ok := out.Records[0][0].(*types.FieldMemberLongValue)
	if !ok {
		return 0, fmt.Errorf("counting rows of %s: the count is not a number", s.cfg.Table)
	}
	return n.Value, nil
}

// run executes a statement and waits for it, polling DescribeStatement
// with backoff; a failed statement's error is returned as Redshift gave it.
func (s *sink) run(ctx context.Context, sql string) (string, error) {
	in := &redshiftdata.ExecuteStatementInput{Sql: aws.String(sql), Database: aws.String(s.cfg.Database)}
	if s.cfg.Workgroup != "" {
		in.WorkgroupName = aws.String(s.cfg.Workgroup)
	} else {
		in.ClusterIdentifier = aws.String(s.cfg.Cluster)
		if s.cfg.SecretArn != "" {
			in.SecretArn = aws.String(s.cfg.SecretArn)
		} else {
			in.DbUser = aws.String(s.cfg.DBUser)
		}
	}
	out, err := s.data.ExecuteStatement(ctx, in)
	if err != nil {
		return "", err
	}
	id := aws.ToString(out.Id)
	wait := s.cfg.PollFirst
	for {
		d, err := s.data.DescribeStatement(ctx, &redshiftdata.DescribeStatementInput{Id: aws.String(id)})
		if err != nil {
			return id, err
		}
		switch d.Status {
		case types.StatusStringFinished:
			return id, nil
		case types.StatusStringFailed, types.StatusStringAborted:
			return id, fmt.Errorf("statement %s %s: %s", id, strings.ToLower(string(d.Status)), aws.ToString(d.Error))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return id, context.Cause(ctx)
		case <-t.C:
		}
		wait = min(wait*2, s.cfg.PollLimit)
	}
}
