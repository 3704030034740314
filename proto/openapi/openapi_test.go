package openapi

import (
	"encoding/json"
	"testing"
)

type securityScheme struct {
	Type string `json:"type"`
	In   string `json:"in"`
	Name string `json:"name"`
}

type operation struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
}

type document struct {
	Swagger             string                          `json:"swagger"`
	Paths               map[string]map[string]operation `json:"paths"`
	SecurityDefinitions map[string]securityScheme       `json:"securityDefinitions"`
	Security            []map[string][]string           `json:"security"`
}

func parse(t *testing.T) document {
	t.Helper()
	if !json.Valid(JSON) {
		t.Fatal("tokengate.swagger.json is not valid JSON")
	}
	var doc document
	if err := json.Unmarshal(JSON, &doc); err != nil {
		t.Fatalf("unmarshal tokengate.swagger.json: %v", err)
	}
	return doc
}

func TestValidSwagger2(t *testing.T) {
	doc := parse(t)
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q, want 2.0", doc.Swagger)
	}
}

func TestSecurityDefinitions(t *testing.T) {
	doc := parse(t)
	for name, want := range map[string]securityScheme{
		"Bearer":      {Type: "apiKey", In: "header", Name: "Authorization"},
		"StatusToken": {Type: "apiKey", In: "query", Name: "token"},
	} {
		got, ok := doc.SecurityDefinitions[name]
		if !ok {
			t.Errorf("securityDefinitions.%s missing", name)
			continue
		}
		if got != want {
			t.Errorf("securityDefinitions.%s = %+v, want %+v", name, got, want)
		}
	}
	if len(doc.Security) != 1 || len(doc.Security[0]) != 1 || doc.Security[0]["Bearer"] == nil {
		t.Errorf("global security = %v, want [{Bearer: []}]", doc.Security)
	}
}

func TestStatusAcceptsBearerOrStatusToken(t *testing.T) {
	doc := parse(t)
	op, ok := doc.Paths["/status"]["get"]
	if !ok {
		t.Fatal("GET /status missing")
	}
	// Each entry of security is one alternative: Bearer OR StatusToken.
	found := map[string]bool{}
	for _, req := range op.Security {
		if len(req) != 1 {
			t.Errorf("GET /status security requirement %v: want exactly one scheme per alternative", req)
		}
		for name := range req {
			found[name] = true
		}
	}
	if len(op.Security) != 2 || !found["Bearer"] || !found["StatusToken"] {
		t.Errorf("GET /status security = %v, want alternatives Bearer and StatusToken", op.Security)
	}
}

func TestEchoPaths(t *testing.T) {
	doc := parse(t)
	if _, ok := doc.Paths["/v1/echo"]["post"]; !ok {
		t.Error("POST /v1/echo missing")
	}
	if _, ok := doc.Paths["/v1/echo/stream"]["get"]; !ok {
		t.Error("GET /v1/echo/stream missing")
	}
}
