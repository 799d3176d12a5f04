package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/pinpoint"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
)

// standIn speaks the two wire protocols: pinpointsmsvoicev2 (awsJson1_0,
// X-Amz-Target) and Pinpoint's REST phone number validate.
type standIn struct {
	mu    sync.Mutex
	sent  []map[string]any
	times []time.Time
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Header.Get("X-Amz-Target") == "PinpointSMSVoiceV2.SendTextMessage":
		var in map[string]any
		json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if in["DestinationPhoneNumber"] == "+15555550000" {
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ValidationException","Message":"destination is opted out"}`)
			return
		}
		s.mu.Lock()
		s.sent = append(s.sent, in)
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		fmt.Fprintf(w, `{"MessageId":"m-%d"}`, len(s.sent))
	case r.URL.Path == "/v1/phone/number/validate":
		var in struct{ PhoneNumber string }
		json.Unmarshal(body, &in)
		kind := "MOBILE"
		if strings.HasSuffix(in.PhoneNumber, "9999") {
			kind = "INVALID"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"PhoneType":%q,"CleansedPhoneNumberE164":%q}`, kind, in.PhoneNumber)
	default:
		w.WriteHeader(404)
	}
}

func clients(t *testing.T, url string) (*pinpointsmsvoicev2.Client, *pinpoint.Client) {
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")))
	if err != nil {
		t.Fatal(err)
	}
	return pinpointsmsvoicev2.NewFromConfig(cfg, func(o *pinpointsmsvoicev2.Options) { o.BaseEndpoint = aws.String(url) }),
		pinpoint.NewFromConfig(cfg, func(o *pinpoint.Options) { o.BaseEndpoint = aws.String(url) })
}

func batch(lines ...string) *runner.Batch {
	b := &runner.Batch{Seq: 1}
	for i, l := range lines {
		b.Records = append(b.Records, runner.Record{Line: int64(i + 1), Raw: []byte(l)})
	}
	return b
}

func TestSMS_SendsAndReportsBadNumbers(t *testing.T) {
	stand := &standIn{}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	smsClient, validator := clients(t, srv.URL)
	s, err := newSink(smsClient, validator, settings{Origination: "+18005550199", Template: "Hi {{.given_name}}, your order shipped",
		PhoneField: "phone", MessageType: "TRANSACTIONAL", PerSecond: 20})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), batch(
		`{"given_name":"Ada","phone":"+1 (415) 555-0100"}`,
		`{"given_name":"Bob","phone":"4155550101"}`,
		`{"given_name":"Cy","phone":"+14155559999"}`,
		`{"given_name":"Di","phone":"+15555550000"}`,
		`{"given_name":"Ed"}`,
		`{"given_name":"Flo","phone":"+442071838750"}`,
	))
	var recErrs runner.RecordErrors
	if !errors.As(err, &recErrs) || len(recErrs) != 4 {
		t.Fatalf("err = %v", err)
	}
	want := []string{"line 2: phone number ******0101 is not in E.164 format", "line 3: phone number ********9999 is not valid",
		"line 4: sending to ********0000", "line 5: no phone"}
	for i, w := range want {
		if !strings.Contains(recErrs[i].Error(), w) {
			t.Errorf("error %d = %q, want %q", i, recErrs[i].Error(), w)
		}
	}
	if len(stand.sent) != 2 || stand.sent[0]["DestinationPhoneNumber"] != "+14155550100" || stand.sent[0]["MessageBody"] != "Hi Ada, your order shipped" ||
		stand.sent[0]["OriginationIdentity"] != "+18005550199" || stand.sent[0]["MessageType"] != "TRANSACTIONAL" {
		t.Fatalf("sent %+v", stand.sent)
	}
	for _, e := range recErrs {
		if strings.Contains(e.Error(), "5550000") || strings.Contains(e.Error(), "4155559999") {
			t.Errorf("a phone number in an error: %v", e)
		}
	}
}

func TestSMS_SendRateIsHonoured(t *testing.T) {
	stand := &standIn{}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	smsClient, _ := clients(t, srv.URL)
	s, _ := newSink(smsClient, nil, settings{Origination: "o", MessageField: "text", PhoneField: "phone", MessageType: "PROMOTIONAL", PerSecond: 1000})
	// The limiter's burst is one: sends are spaced by 1/rate. With 1000 a
	// second, 20 sends take at least 19 ms; without a limit, far less.
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"phone":"+1415555%04d","text":"hi"}`, i))
	}
	if err := s.Send(context.Background(), batch(lines...)); err != nil {
		t.Fatal(err)
	}
	if got := stand.times[len(stand.times)-1].Sub(stand.times[0]); got < 19*time.Millisecond {
		t.Fatalf("20 sends at 1000/s took %v", got)
	}
}

func TestSMS_ConfigErrorsNameWhatIsWrong(t *testing.T) {
	vars := map[string]string{"MESSAGE_TYPE": "loud", "SENDS_PER_SECOND": "0"}
	_, err := loadConfig(&runner.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }})
	for _, want := range []string{"ORIGINATION_IDENTITY is required", "MESSAGE_TEMPLATE or MESSAGE_FIELD is required", `MESSAGE_TYPE="LOUD"`, "SENDS_PER_SECOND must be above 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v lacks %q", err, want)
		}
	}
}
