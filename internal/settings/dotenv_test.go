package settings_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os/exec"
	"reflect"
	"testing"

	"github.com/tokengate/tokengate/internal/settings"
)

// none stands for python-dotenv's None: a key written without "=".
const none = "<None>"

// dotEnvCases are what python-dotenv 1.x's dotenv_values returns for each
// input, with the environment env. Each expectation cites the function of
// python-dotenv (src/dotenv/parser.py, main.py, variables.py) that decides
// it; TestParseDotEnvMatchesPython checks them all against the real thing
// when python3 has the dotenv module.
var dotEnvCases = []struct {
	name      string
	in        string
	env       map[string]string
	want      map[string]string
	malformed int // statements python-dotenv warns about and skips
	// python122 is set when python-dotenv 1.2.2 differs, with the reason.
	python122 string
}{
	{name: "plain", in: "A=1\nB=two words\n", want: map[string]string{"A": "1", "B": "two words"}},
	{name: "no final newline", in: "A=1", want: map[string]string{"A": "1"}},
	// parser._export
	{name: "export", in: "export A=1\n\texport  B=2\n", want: map[string]string{"A": "1", "B": "2"}},
	{name: "exportA is a key", in: "exportA=1\n", want: map[string]string{"exportA": "1"}},
	// parser._whitespace and _equal_sign around "="
	{name: "spaces around =", in: "A = 1\n  B=  2\n", want: map[string]string{"A": "1", "B": "2"}},
	// parser.parse_unquoted_value: re.sub(r"\s+#.*", "", part).rstrip()
	{name: "inline comment", in: "A=abc #x #y\nB=abc#x\nC=abc\t#x\nD=abc   \n", want: map[string]string{"A": "abc", "B": "abc#x", "C": "abc", "D": "abc"}},
	{name: "quotes inside an unquoted value", in: `A=ab"c'd` + "\n", want: map[string]string{"A": `ab"c'd`}},
	{name: "python whitespace", in: "A=x\u00a0#c\nB\u00a0=y\nC=z\v#c\nD=w\x1c\n", want: map[string]string{"A": "x", "B": "y", "C": "z", "D": "w"}},
	// parser.parse_value: empty values
	{name: "empty values", in: "A=\nB=''\nC=\"\"\nD=\"\" # c\n", want: map[string]string{"A": "", "B": "", "C": "", "D": ""}},
	// _equal_sign eats the blanks after "=", so a # there starts the value.
	{name: "# right after = and blanks", in: "A= # c\nB=#c\n", want: map[string]string{"A": "# c", "B": "#c"}},
	// parser.parse_binding: no "=" gives None
	{name: "key without =", in: "A\nB=1\n", want: map[string]string{"A": none, "B": "1"}},
	// variables.parse_variables: only ${...} is a variable
	{name: "bare $ kept", in: "A=Pa$5word\nB=$HOME\nC=$\nD=$$\n", env: map[string]string{"HOME": "/root"},
		want: map[string]string{"A": "Pa$5word", "B": "$HOME", "C": "$", "D": "$$"}},
	{name: "${VAR} from the environment", in: "A=x${B}y\n", env: map[string]string{"B": "env"}, want: map[string]string{"A": "xenvy"}},
	{name: "${VAR} is case-sensitive", in: "A=x${b}y\n", env: map[string]string{"B": "env"}, want: map[string]string{"A": "xy"}},
	// main.resolve_variables with override=True (dotenv_values): earlier
	// entries of the file win over the environment; later ones do not count.
	{name: "earlier entry wins over the environment", in: "B=file\nA=${B}\n", env: map[string]string{"B": "env"}, want: map[string]string{"B": "file", "A": "file"}},
	{name: "later entry not seen", in: "A=${B}\nB=file\n", want: map[string]string{"A": "", "B": "file"}},
	{name: "redefinition sees the earlier value", in: "A=1\nA=${A}2\n", want: map[string]string{"A": "12"}},
	// variables.Variable.resolve: env.get(name, default)
	{name: "default when unset", in: "A=${B:-dflt}\n", want: map[string]string{"A": "dflt"}},
	{name: "no default when set empty", in: "A=${B:-dflt}\n", env: map[string]string{"B": ""}, want: map[string]string{"A": ""}},
	{name: "no default for a key without =", in: "B\nA=${B:-dflt}\n", want: map[string]string{"B": none, "A": ""}},
	{name: "odd variables", in: "A=${}\nB=${X:y}\nC=${X:-${D}}\nE=${X:-}\n", env: map[string]string{"D": "d"},
		want: map[string]string{"A": "", "B": "${X:y}", "C": "${D}", "E": ""}},
	// parser._double_quote_escapes decoded by codecs "unicode-escape"
	{name: "double-quote escapes", in: `A="a\tb\nc\\d\"e\'f\a\b\f\r\v"` + "\n", want: map[string]string{"A": "a\tb\nc\\d\"e'f\a\b\f\r\v"}},
	{name: "other escapes kept", in: `A="\u00e9\x41\0\$\q"` + "\n", want: map[string]string{"A": `\u00e9\x41\0\$\q`}},
	{name: "escaped backslash before the closing quote", in: `A="a\\"` + "\n", want: map[string]string{"A": `a\`}},
	{name: "double quotes keep # and spaces", in: `A="abc #x " # comment` + "\n", want: map[string]string{"A": "abc #x "}},
	{name: "double-quoted ${VAR}", in: `A="${B}\${B}"` + "\n", env: map[string]string{"B": "b"}, want: map[string]string{"A": `b\b`}},
	// parser._single_quote_escapes: only \\ and \'
	{name: "single quotes", in: `A='a\tb\\c\'d $B'` + "\n", want: map[string]string{"A": `a\tb\c'd $B`}},
	// resolve_variables expands every value, single-quoted ones too
	{name: "single-quoted ${VAR} is expanded", in: "A='x${B}y'\n", env: map[string]string{"B": "env"}, want: map[string]string{"A": "xenvy"}},
	// parser._single_quoted_key
	{name: "quoted key", in: "'A B'=1\n", want: map[string]string{"A B": "1"}},
	{name: "multi-line value", in: "A=\"x\ny\"\nB='1\n2'\nC=3\n", want: map[string]string{"A": "x\ny", "B": "1\n2", "C": "3"}},
	{name: "comments and blank lines", in: "# c\n\n   # c\n  A=1  # c\n\n", want: map[string]string{"A": "1"}},
	// Malformed statements: parse_binding reads _rest_of_line and goes on.
	{name: "colon is malformed", in: "export A=1\nB: 2\nC=3\n", want: map[string]string{"A": "1", "C": "3"}, malformed: 1},
	{name: "text after a closing quote", in: "A=\"x\"y\nB=2\n", want: map[string]string{"B": "2"}, malformed: 1},
	{name: "no key", in: "=x\nB=2\n", want: map[string]string{"B": "2"}, malformed: 1},
	{name: "unclosed quoted key", in: "'A=1\nB=2\n", want: map[string]string{"B": "2"}, malformed: 1},
	{name: "unclosed quote swallows lines", in: "A=\"abc\nB=def\nC=\"ghi\"\nD=4\n", want: map[string]string{"D": "4"}, malformed: 1},
	{name: "unclosed quote at the end", in: "B=2\nA='abc\n", want: map[string]string{"B": "2"}, malformed: 1},
	// Python reads text files with universal newlines.
	{name: "CR and CRLF line ends", in: "A=1\rB=2\r\nC=\"x\ry\"\n", want: map[string]string{"A": "1", "B": "2", "C": "x\ny"}},
	{name: "byte order mark", in: "\ufeffA=1\n", want: map[string]string{"A": "1"},
		python122: "python-dotenv 1.2.2 reads the key as \\ufeffA; its fix #640 strips the mark"},
}

func dotEnvValues(bindings []settings.Binding) (values map[string]string, malformed int) {
	values = make(map[string]string)
	for _, b := range bindings {
		switch {
		case b.Key == "":
			malformed++
		case !b.HasValue:
			values[b.Key] = none
		default:
			values[b.Key] = b.Value
		}
	}
	return values, malformed
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseDotEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range dotEnvCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bindings, err := settings.ParseDotEnv([]byte(tc.in), lookup(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			got, malformed := dotEnvValues(bindings)
			if !maps.Equal(got, tc.want) || malformed != tc.malformed {
				t.Errorf("ParseDotEnv(%q) = %q and %d malformed\nwant %q and %d", tc.in, got, malformed, tc.want, tc.malformed)
			}
		})
	}
}

func TestParseDotEnvLines(t *testing.T) {
	t.Parallel()
	in := "# c\n\nA=1\nB=\"x\ny\"\n  C: 3\n\nD\n"
	bindings, err := settings.ParseDotEnv([]byte(in), lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, b := range bindings {
		got = append(got, b.Line)
	}
	if want := []int{3, 4, 6, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %v, want %v", got, want)
	}
}

func TestParseDotEnvInvalidUTF8(t *testing.T) {
	t.Parallel()
	_, err := settings.ParseDotEnv([]byte("A=\ufffd\nB=1\nC=\xff\n"), lookup(nil))
	if err == nil || err.Error() != "line 3 is not valid UTF-8" {
		t.Errorf("err = %v, want line 3 is not valid UTF-8", err)
	}
}

// pythonDotEnv calls dotenv_values on each case as pydantic-settings does
// (a file, encoding utf8) and prints the values (null for None) and the
// number of "could not parse" warnings.
const pythonDotEnv = `
import json, logging, os, sys, tempfile
from dotenv import dotenv_values
warnings = []
class Count(logging.Handler):
    def emit(self, record): warnings.append(record)
logging.getLogger("dotenv.main").addHandler(Count())
out = []
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, ".env")
    for c in json.load(sys.stdin):
        with open(path, "w", encoding="utf8", newline="") as f:
            f.write(c["in"])
        os.environ.clear(); os.environ.update(c["env"] or {})
        del warnings[:]
        values = dotenv_values(path, encoding="utf8")
        out.append({"values": values, "malformed": len(warnings)})
json.dump(out, sys.stdout)
`

// TestParseDotEnvMatchesPython runs every case through python-dotenv, when
// python3 can import it (apt-get install python3-dotenv), so that the table
// above is checked against the implementation it describes.
func TestParseDotEnvMatchesPython(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import dotenv").Run() != nil {
		t.Skip("python3 with the dotenv module is not installed")
	}
	type pyCase struct {
		In  string            `json:"in"`
		Env map[string]string `json:"env"`
	}
	var cases []pyCase
	for _, tc := range dotEnvCases {
		cases = append(cases, pyCase{tc.in, tc.env})
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pythonDotEnv)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var results []struct {
		Values    map[string]*string `json:"values"`
		Malformed int                `json:"malformed"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(dotEnvCases) {
		t.Fatalf("python3 printed %d results (%v): %s", len(results), err, out)
	}
	for i, tc := range dotEnvCases {
		got := make(map[string]string)
		for k, v := range results[i].Values {
			got[k] = none
			if v != nil {
				got[k] = *v
			}
		}
		same := maps.Equal(got, tc.want) && results[i].Malformed == tc.malformed
		switch {
		case tc.python122 != "" && same:
			t.Errorf("%s: python-dotenv now agrees; drop python122 (%s)", tc.name, tc.python122)
		case tc.python122 == "" && !same:
			t.Errorf("%s: python-dotenv reads %q as %q and %d malformed; the table says %q and %d",
				tc.name, tc.in, got, results[i].Malformed, tc.want, tc.malformed)
		}
	}
}
