package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Load returns the value of each of names that is set, as Brevia's
// pydantic-settings would find it: in environ (KEY=VALUE strings, as
// os.Environ returns them) if any spelling of the name is there, even with
// an empty value; otherwise in the .env file at dotEnvPath, read by
// ParseDotEnv. Names match whatever their case (case_sensitive=False). A
// name set nowhere is absent from the map.
//
// The .env file is read only when environ lacks one of names, and a missing
// file is no error. Where pydantic-settings would pick a value silently and
// a mistake would weaken authentication, Load refuses instead:
//   - a .env that cannot be read (not a regular file, no permission, over
//     MaxDotEnvSize) or decoded;
//   - a name set twice in one source, in any spellings, with different
//     values (python-dotenv keeps the last of .env's);
//   - in .env, a name with no "=", a malformed statement that mentions a
//     name (python-dotenv would skip it), a name on the first line after a
//     byte order mark (python-dotenv 1.2.2 and older would miss it), a key
//     that is a name with other ASCII characters (TOKENS_SECRET:=), and a
//     quoted value over lines, one of which reads as setting a name (an
//     unclosed quote swallows the lines that follow it).
//
// Only the names the environment lacks are checked in .env. Errors quote
// line numbers and names, never a value.
func Load(environ []string, dotEnvPath string, names ...string) (map[string]string, error) {
	values := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		v, found, err := fromEnviron(environ, name)
		switch {
		case err != nil:
			return nil, err
		case found:
			values[name] = v
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 || dotEnvPath == "" {
		return values, nil
	}

	data, err := ReadRegular(dotEnvPath, MaxDotEnvSize)
	if errors.Is(err, fs.ErrNotExist) {
		return values, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", dotEnvPath, err)
	}
	bindings, err := ParseDotEnv(data, lookupIn(environ))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", dotEnvPath, err)
	}
	for _, name := range missing {
		v, found, err := fromDotEnv(bindings, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dotEnvPath, err)
		}
		if found {
			values[name] = v
		}
	}
	return values, nil
}

func fromEnviron(environ []string, name string) (value string, found bool, err error) {
	var spelling string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok || fold(k) != fold(name):
		case !found:
			value, found, spelling = v, true, k
		case v != value:
			return "", false, fmt.Errorf("the environment sets %s as both %s and %s, with different values: keep one", name, spelling, k)
		}
	}
	return value, found, nil
}

func fromDotEnv(bindings []Binding, name string) (value string, found bool, err error) {
	want := fold(name)
	var set []Binding
	for _, b := range bindings {
		switch {
		case b.Key == "" && strings.Contains(fold(b.text), want):
			return "", false, fmt.Errorf("line %d mentions %s but is not KEY=VALUE (python-dotenv would skip it): fix or remove it", b.Line, name)
		case b.Key != "" && setsOnALaterLine(b.text, want):
			return "", false, fmt.Errorf("line %d: a value runs on over a line that sets %s (a quote left open?): fix it", b.Line, name)
		case b.Key != "" && fold(b.Key) == want:
			set = append(set, b)
		case b.Key != "" && fold(nameChars(b.Key)) == want:
			// Not the name as written: it could hold punctuation of a value.
			return "", false, fmt.Errorf("line %d sets a name that is %s with other characters, which pydantic-settings would not read as it: fix the name", b.Line, name)
		}
	}
	// python-dotenv lets the last binding of a key win, and
	// pydantic-settings one spelling over another: which was meant cannot
	// be known, so two that differ are refused, whatever their spelling.
	var first Binding
	for _, b := range set {
		switch {
		case b.afterBOM:
			return "", false, fmt.Errorf("line %d sets %s right after a UTF-8 byte order mark, which python-dotenv 1.2.2 and older read as part of the name: remove the mark or start with another line", b.Line, name)
		case !b.HasValue:
			return "", false, fmt.Errorf(`line %d names %s without "=" (pydantic-settings would read it as unset): write %s= for an empty value`, b.Line, name, b.Key)
		case found && b.Value != value && b.Key == first.Key:
			return "", false, fmt.Errorf("line %d sets %s again, to another value than line %d: keep one", b.Line, name, first.Line)
		case found && b.Value != value:
			return "", false, fmt.Errorf("line %d sets %s again, spelt %s, to another value than line %d: keep one", b.Line, name, b.Key, first.Line)
		case !found:
			first = b
		}
		value, found = b.Value, true
	}
	return value, found, nil
}

// nameChars is name without the ASCII characters a variable name cannot
// have, and without characters that show nothing (format characters such
// as a zero-width space, the Hangul fillers, variation selectors, the
// blank Braille pattern): "TOKENS_SECRET:" is TOKENS_SECRET mistyped, which
// pydantic-settings would not read as it. Accents are kept, combining or
// not: TOKENS_SECRÉT is another name, however it is normalised.
func nameChars(name string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && r != '_' && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') ||
			r == '\u2800' || unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) {
			return -1
		}
		return r
	}, name)
}

// lineBinding is the start of a line that python-dotenv would read as a
// binding: blanks, "export", a key (single-quoted or not) and "=".
var lineBinding = regexp.MustCompile(`^[` + pyBlank + `]*(?:export[` + pyBlank + `]+)?(?:'([^']+)'|([^=#` + pySpace + `]+))[` + pyBlank + `]*=`)

// setsOnALaterLine reports whether a statement that spans lines (a quoted
// value) has, after its first line, one that reads as setting the name
// folded to want (or that name with other ASCII characters): a line that
// was meant as a binding of its own, or one whose meaning cannot be known.
func setsOnALaterLine(text, want string) bool {
	lines := strings.Split(text, "\n") // ParseDotEnv reads "\r\n" and "\r" as "\n"
	for _, l := range lines[1:] {
		m := lineBinding.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		key := m[1] + m[2]
		if fold(key) == want || fold(nameChars(key)) == want {
			return true
		}
	}
	return false
}

// fold lowers a name as Python's str.lower() does, as far as matching ASCII
// names needs: ASCII letters, and the Kelvin sign, whose lower case is "k".
// Every other character keeps its case and so can never match.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		case r == '\u212a':
			return 'k'
		}
		return r
	}, s)
}

// lookupIn is os.LookupEnv over environ. The first of duplicate keys wins,
// as it does for getenv(3) and Python's os.environ.
func lookupIn(environ []string) func(string) (string, bool) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := env[k]; !dup {
				env[k] = v
			}
		}
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}
