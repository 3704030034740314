// Package wire is tokengate's wire contract: what travels between a caller
// (or the REST gateway, which calls on a REST caller's behalf) and the
// interceptors that decide. It holds the metadata keys that carry
// credentials, how a gRPC method name is written and split, and which
// methods the status token opens by default.
//
// Packages interceptors and gateway both import it, so that a key, a rule
// or a default is changed once and the two faces cannot drift apart. It
// depends on nothing but the standard library.
package wire
