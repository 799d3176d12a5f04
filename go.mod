module github.com/amperity/lambda-runner-go

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	golang.org/x/time v0.16.0
)
