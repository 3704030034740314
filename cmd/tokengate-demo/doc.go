// Command tokengate-demo runs the whole tokengate suite with one command:
//
//	go run ./cmd/tokengate-demo
//
// It serves tokengate.v1.EchoService (all four kinds of call),
// tokengate.v1.StatusService, the standard grpc.health.v1 health service and
// server reflection over gRPC on GRPC_ADDR (default 127.0.0.1:50051), and the
// same services as REST through grpc-gateway on HTTP_ADDR (default
// 127.0.0.1:8080), with the OpenAPI document at /openapi.json. Every gRPC
// method, and so every REST route, is guarded by the interceptors configured
// from the environment: TOKENS_SECRET (empty: auth off), TOKENS_SECRET_PREVIOUS,
// TOKENS_USERS, STATUS_TOKEN, TOKENS_LEEWAY, TOKENS_CACHE_SIZE.
//
// Flags -grpc-addr and -http-addr override the addresses. SIGINT or SIGTERM
// shuts it down gracefully.
package main
