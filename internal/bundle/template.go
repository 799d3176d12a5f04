package bundle

import (
	"fmt"
	"strings"
)

// samTemplate writes the AWS SAM template for the function. It uses the
// long forms of intrinsic functions (Fn::Sub, Ref) so the file is plain
// YAML any parser reads.
func samTemplate(opts Options, vars []string, examples map[string]string) string {
	name := opts.Handler
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# AWS SAM template for the Amperity webhook handler %q.", name)
	w("# Written by: go run ./cmd/devserver package %s --arch %s", name, opts.Arch)
	w("# Deploy:     sam deploy --guided -t build/%s/template.yaml", name)
	w("AWSTemplateFormatVersion: '2010-09-09'")
	w("Transform: AWS::Serverless-2016-10-31")
	w("Description: Amperity Webhook destination handler %s", name)
	w("")
	w("Resources:")
	w("  Function:")
	w("    Type: AWS::Serverless::Function")
	w("    Properties:")
	w("      # A fixed name, so the function's policy can name its own ARN.")
	w("      FunctionName:")
	w("        Fn::Sub: ${AWS::StackName}-%s", name)
	w("      CodeUri: ../%s.zip", name)
	w("      Handler: bootstrap")
	w("      Runtime: provided.al2023")
	w("      Architectures:")
	w("        - %s", opts.Arch)
	w("      Timeout: 900")
	w("      MemorySize: %d", opts.Memory)
	w("      # Long jobs continue by invoking the function again: allow the loop")
	w("      # (Lambda stops recursive chains after about 16 invocations otherwise).")
	w("      RecursiveLoop: Allow")
	w("      # A failed background invocation has already reported failed to")
	w("      # Amperity; a retry would send the same records again.")
	w("      EventInvokeConfig:")
	w("        MaximumRetryAttempts: 0")
	if len(vars) > 0 {
		w("      Environment:")
		w("        Variables:")
		for _, v := range vars {
			if ex, ok := examples[v]; ok {
				w("          %s: ''  # example: %s", v, yamlComment(ex))
			} else {
				w("          %s: ''", v)
			}
		}
	}
	w("      Policies:")
	w("        - Version: '2012-10-17'")
	w("          Statement:")
	w("            - Sid: InvokeItselfToContinueLongJobs")
	w("              Effect: Allow")
	w("              Action: lambda:InvokeFunction")
	w("              Resource:")
	w("                Fn::Sub: arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-%s", name)
	w("      Events:")
	w("        Run:")
	w("          Type: Api")
	w("          Properties:")
	w("            RestApiId:")
	w("              Ref: Api")
	w("            Path: /run")
	w("            Method: post")
	w("            Auth:")
	w("              ApiKeyRequired: true")
	w("")
	w("  Api:")
	w("    Type: AWS::Serverless::Api")
	w("    Properties:")
	w("      StageName: prod")
	w("      Auth:")
	w("        ApiKeyRequired: true")
	w("        UsagePlan:")
	w("          CreateUsagePlan: PER_API")
	w("          Description: Amperity Webhook destination for %s", name)
	w("")
	w("Outputs:")
	w("  Endpoint:")
	w("    Description: Webhook URL to enter in Amperity's Webhook destination")
	w("    Value:")
	w("      Fn::Sub: https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/run")
	w("  ApiKeyId:")
	w("    Description: Id of the API key Amperity must send as x-api-key")
	w("    Value:")
	w("      Ref: ApiApiKey")
	w("  ApiKeyValueCommand:")
	w("    Description: Prints the API key's value")
	w("    Value:")
	w("      Fn::Sub: aws apigateway get-api-key --api-key ${ApiApiKey} --include-value --query value --output text")
	w("  FunctionArn:")
	w("    Value:")
	w("      Fn::GetAtt: [Function, Arn]")
	return b.String()
}

func yamlComment(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
