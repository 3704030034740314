package gateway

import (
	"net/url"
	"strings"
)

// RedactURL returns u as a string fit for logs: the value of the status
// token parameter is replaced, since it is a secret that travels in a URL.
// The rest of the query is kept as it came.
func RedactURL(u *url.URL) string {
	c := *u
	c.RawQuery = redactQuery(u.RawQuery)
	return c.String()
}

// redactQuery works on the query's text rather than on url.Query, which
// drops the pairs it cannot parse (a bad escape, a ';' separator) and so
// would leave a token in such a pair in the log. Every pair separated by '&'
// or ';' whose key is, or decodes to, "token" loses its value.
func redactQuery(raw string) string {
	var b strings.Builder
	for rest := raw; rest != ""; {
		pair := rest
		sep := ""
		if i := strings.IndexAny(rest, "&;"); i >= 0 {
			pair, sep, rest = rest[:i], rest[i:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		if key, _, ok := strings.Cut(pair, "="); ok {
			name, err := url.QueryUnescape(key)
			if err != nil {
				name = key
			}
			// Any case: the value is redacted even where it is not a
			// status token (?TOKEN= grants nothing), since it may be one.
			if strings.EqualFold(name, StatusTokenParam) {
				pair = key + "=REDACTED"
			}
		}
		b.WriteString(pair)
		b.WriteString(sep)
	}
	return b.String()
}
