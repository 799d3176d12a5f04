package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/customerprofiles"
)

// profilesStandIn speaks Customer Profiles' REST-JSON protocol for
// CreateProfile, refusing profiles without a name or email as the real
// service refuses malformed ones.
type profilesStandIn struct {
	mu       sync.Mutex
	profiles []map[string]any
	domain   string
}

func (p *profilesStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != "POST" || r.URL.Path != "/domains/"+p.domain+"/profiles" {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(404)
		io.WriteString(w, `{"Message":"Domain not found"}`)
		return
	}
	var in map[string]any
	json.NewDecoder(r.Body).Decode(&in)
	if in["EmailAddress"] == nil && in["FirstName"] == nil {
		w.Header().Set("X-Amzn-Errortype", "BadRequestException")
		w.WriteHeader(400)
		io.WriteString(w, `{"Message":"profile has no identifying field"}`)
		return
	}
	p.mu.Lock()
	p.profiles = append(p.profiles, in)
	p.mu.Unlock()
	io.WriteString(w, `{"ProfileId":"p-1"}`)
}

func client(t *testing.T, url string) *customerprofiles.Client {
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")))
	if err != nil {
		t.Fatal(err)
	}
	return customerprofiles.NewFromConfig(cfg, func(o *customerprofiles.Options) { o.BaseEndpoint = aws.String(url) })
}

func batch(lines ...string) *runner.Batch {
	b := &runner.Batch{Seq: 1}
	for i, l := range lines {
		b.Records = append(b.Records, runner.Record{Line: int64(i + 1), Raw: []byte(l)})
	}
	return b
}

func TestProfiles_CreatesProfilesWithTheRealSDK(t *testing.T) {
	stand := &profilesStandIn{domain: "amperity"}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	s := newSink(client(t, srv.URL), sinkConfig{Domain: "amperity", Concurrency: 3})
	err := s.Send(context.Background(), batch(
		`{"amperity_id":"a1","given_name":"Ada","surname":"Lovelace","email":"ada@example.com","phone":"+14155550100","address":"12 Main St","address2":"","city":"Seattle","state":"WA","postal":"98101","country":"US","churn_risk":"low","lifetime_revenue":120.5,"vip":null}`,
		`{"amperity_id":"a2","churn_risk":"high"}`,
		`{"first_name":"Grace"}`,
	))
	var recErrs runner.RecordErrors
	if !errors.As(err, &recErrs) || len(recErrs) != 1 || recErrs[0].Line != 2 || !strings.Contains(recErrs[0].Error(), "no identifying field") {
		t.Fatalf("err = %v", err)
	}
	if len(stand.profiles) != 2 {
		t.Fatalf("%d profiles created", len(stand.profiles))
	}
	var ada map[string]any
	for _, p := range stand.profiles {
		if p["FirstName"] == "Ada" {
			ada = p
		}
	}
	got, _ := json.Marshal(ada)
	for _, want := range []string{`"LastName":"Lovelace"`, `"EmailAddress":"ada@example.com"`, `"AccountNumber":"a1"`,
		`"Address":{"Address1":"12 Main St","City":"Seattle","Country":"US","PostalCode":"98101","State":"WA"}`,
		`"Attributes":{"churn_risk":"low","lifetime_revenue":"120.5"}`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("profile %s lacks %s", got, want)
		}
	}
}

func TestProfiles_UnknownDomainStopsTheJob(t *testing.T) {
	srv := httptest.NewServer(&profilesStandIn{domain: "amperity"})
	defer srv.Close()
	s := newSink(client(t, srv.URL), sinkConfig{Domain: "typo"})
	err := s.Send(context.Background(), batch(`{"email":"a@example.com"}`))
	if !runner.IsFatal(err) || !strings.Contains(err.Error(), `domain "typo" not found`) {
		t.Fatalf("err = %v", err)
	}
}
