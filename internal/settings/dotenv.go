package settings

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A Binding is one statement of a .env file, as python-dotenv's
// parser.parse_binding returns it.
type Binding struct {
	// Line is where the statement starts, counting from 1.
	Line int
	// Key is the name as written; "" marks a malformed statement, which
	// python-dotenv skips with a warning.
	Key string
	// Value is unquoted, unescaped and ${VAR}-expanded.
	Value string
	// HasValue is false for a KEY with no "=", which python-dotenv reads
	// as None and pydantic-settings as unset.
	HasValue bool

	text     string // the statement as written: searched for names, never shown
	afterBOM bool   // on the first line, after a UTF-8 byte order mark
}

// pySpace is the class Python's \s matches in a str pattern (str.isspace):
// Go's \s lacks \v, U+001C to U+001F and the Unicode spaces. pyBlank is
// [^\S\r\n], the same without line ends.
const (
	pyBlank = `\t\v\f\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	pySpace = `\n\r` + pyBlank
)

// The regular expressions of python-dotenv 1.x's parser.py, in its order and
// under its names, anchored because Reader.read_regex uses re.match. Go's
// leftmost-first matching picks what Python's backtracking picks.
var (
	multilineWhitespace = regexp.MustCompile(`^[` + pySpace + `]*`)
	whitespace          = regexp.MustCompile(`^[` + pyBlank + `]*`)
	export              = regexp.MustCompile(`^(?:export[` + pyBlank + `]+)?`)
	singleQuotedKey     = regexp.MustCompile(`^'([^']+)'`)
	unquotedKey         = regexp.MustCompile(`^([^=#` + pySpace + `]+)`)
	equalSign           = regexp.MustCompile(`^=[` + pyBlank + `]*`)
	singleQuotedValue   = regexp.MustCompile(`^'((?:\\'|[^'])*)'`)
	doubleQuotedValue   = regexp.MustCompile(`^"((?:\\"|[^"])*)"`)
	unquotedValue       = regexp.MustCompile(`^[^\r\n]*`)
	comment             = regexp.MustCompile(`^(?:[` + pyBlank + `]*#[^\r\n]*)?`)
	endOfLine           = regexp.MustCompile(`^[` + pyBlank + `]*(?:\r\n|\n|\r|$)`)
	restOfLine          = regexp.MustCompile(`^[^\r\n]*(?:\r|\n|\r\n)?`)

	// parse_unquoted_value drops re.sub(r"\s+#.*", "") before rstrip().
	inlineComment = regexp.MustCompile(`[` + pySpace + `]+#`)
	// variables.py: ${NAME} or ${NAME:-DEFAULT}; a bare $NAME is literal.
	posixVariable = regexp.MustCompile(`\$\{([^}:]*)(?::-([^}]*))?\}`)
)

// Escapes decoded by parser.decode_escapes: codecs "unicode-escape" applied
// to these two-character sequences only, so \u00e9 or \x41 stay as written.
var (
	doubleQuoteEscapes = map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
	singleQuoteEscapes = map[byte]byte{'\\': '\\', '\'': '\''}
)

const bom = "\ufeff"

// ParseDotEnv reads the content of a .env file as python-dotenv 1.x's
// dotenv_values does, which is what pydantic-settings calls. Values are
// expanded as main.resolve_variables does with override=True: ${NAME} is
// the latest earlier binding of NAME, else lookupEnv(NAME), else the
// default, else "". Comments and blank lines are not returned; malformed
// statements are (with an empty Key), so that a caller can refuse them.
//
// The only error is content that is not UTF-8, which Python cannot decode
// either. Like Python's text files, "\r\n" and "\r" are read as "\n". A
// leading byte order mark is skipped, as python-dotenv does since its fix
// #640 (after 1.2.2); earlier versions read it as part of the first key.
func ParseDotEnv(data []byte, lookupEnv func(string) (string, bool)) ([]Binding, error) {
	s := string(data)
	if bad := invalidUTF8(s); bad >= 0 {
		return nil, fmt.Errorf("line %d is not valid UTF-8", 1+strings.Count(s[:bad], "\n"))
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	s, hadBOM := strings.CutPrefix(s, bom)

	p := &parser{s: s, line: 1}
	var bindings []Binding
	for {
		p.read(multilineWhitespace)
		if p.pos == len(p.s) {
			break
		}
		b := Binding{Line: p.line, afterBOM: hadBOM && p.line == 1}
		start := p.pos
		ok := p.binding(&b)
		if !ok {
			// python-dotenv skips to the end of the line where it stopped,
			// which may be lines after the statement began.
			p.read(restOfLine)
			b.Key, b.Value, b.HasValue = "", "", false
		}
		if ok && b.Key == "" {
			continue // a comment
		}
		b.text = s[start:p.pos]
		bindings = append(bindings, b)
	}
	expand(bindings, lookupEnv)
	return bindings, nil
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8, or -1.
func invalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// parser is parser.Reader: a position in the text and its line number.
type parser struct {
	s    string
	pos  int
	line int
}

func (p *parser) read(re *regexp.Regexp) (groups []string, ok bool) {
	m := re.FindStringSubmatch(p.s[p.pos:])
	if m == nil {
		return nil, false
	}
	p.pos += len(m[0])
	p.line += strings.Count(m[0], "\n")
	return m, true
}

func (p *parser) peek() byte {
	if p.pos == len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

// binding is parser.parse_binding after the leading whitespace. It leaves
// b.Key empty for a comment and returns false for a malformed statement.
func (p *parser) binding(b *Binding) bool {
	p.read(export)
	switch p.peek() {
	case '#':
		// A comment: no key; the comment regexp below reads it.
	case '\'':
		m, ok := p.read(singleQuotedKey)
		if !ok {
			return false
		}
		b.Key = m[1]
	default:
		m, ok := p.read(unquotedKey)
		if !ok {
			return false
		}
		b.Key = m[1]
	}
	p.read(whitespace)
	if p.peek() == '=' {
		p.read(equalSign)
		v, ok := p.value()
		if !ok {
			return false
		}
		b.Value, b.HasValue = v, true
	}
	p.read(comment)
	_, ok := p.read(endOfLine)
	return ok
}

// value is parser.parse_value.
func (p *parser) value() (string, bool) {
	switch p.peek() {
	case '\'':
		m, ok := p.read(singleQuotedValue)
		if !ok {
			return "", false
		}
		return unescape(m[1], singleQuoteEscapes), true
	case '"':
		m, ok := p.read(doubleQuotedValue)
		if !ok {
			return "", false
		}
		return unescape(m[1], doubleQuoteEscapes), true
	case 0, '\n', '\r':
		return "", true
	}
	m, _ := p.read(unquotedValue)
	v := m[0]
	if loc := inlineComment.FindStringIndex(v); loc != nil {
		v = v[:loc[0]]
	}
	return strings.TrimRight(v, pySpaceChars), true
}

// pySpaceChars lists pySpace's characters for strings.TrimRight, as
// str.rstrip() strips them.
const pySpaceChars = "\t\n\v\f\r\x1c\x1d\x1e\x1f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

// unescape replaces, left to right, each backslash followed by a key of
// escapes; any other backslash stays.
func unescape(s string, escapes map[byte]byte) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := escapes[s[i+1]]; ok {
				out.WriteByte(c)
				i++
				continue
			}
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

// expand is main.resolve_variables with override=True, as dotenv_values
// calls it: bindings read so far win over the environment, and a binding
// with no value expands to "" (not to the default).
func expand(bindings []Binding, lookupEnv func(string) (string, bool)) {
	type seen struct {
		value    string
		hasValue bool
	}
	earlier := make(map[string]seen)
	for i := range bindings {
		b := &bindings[i]
		if b.Key == "" {
			continue
		}
		if b.HasValue && strings.Contains(b.Value, "${") {
			b.Value = posixVariable.ReplaceAllStringFunc(b.Value, func(v string) string {
				m := posixVariable.FindStringSubmatch(v)
				name, def := m[1], m[2]
				if e, ok := earlier[name]; ok {
					return e.value // "" when the earlier binding had no value
				}
				if v, ok := lookupEnv(name); ok {
					return v
				}
				return def
			})
		}
		earlier[b.Key] = seen{b.Value, b.HasValue}
	}
}
