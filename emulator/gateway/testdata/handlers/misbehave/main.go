// Command misbehave fails in the way its event asks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, event json.RawMessage) (any, error) {
	var in struct {
		Do   string `json:"do"`
		Body string `json:"body"`
	}
	json.Unmarshal(event, &in)
	if in.Body != "" {
		json.Unmarshal([]byte(in.Body), &in)
	}
	fmt.Println("misbehave will", in.Do)
	switch in.Do {
	case "panic":
		panic("deliberate panic")
	case "exit":
		fmt.Fprintln(os.Stderr, "about to exit with status 2")
		os.Exit(2)
	case "sleep":
		time.Sleep(time.Hour) // ignores its deadline, as a stuck handler does
	case "error":
		return nil, errors.New("deliberate error")
	case "notproxy":
		return "just a string", nil
	case "big":
		return strings.Repeat("x", 7<<20), nil
	}
	return map[string]string{"did": in.Do}, nil
}

func main() { lambda.Start(handle) }
