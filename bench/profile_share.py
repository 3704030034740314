"""Share of a CPU profile's samples that is tokengate's, for bench/profile.sh.

    python3 bench/profile_share.py TRACES FACE AUTH_RE PASS_RE PPROF_FOCUS_SHARE

TRACES is `go tool pprof -traces` output. A sample is auth's if, walking its
stack from the leaf towards the root, the first frame matching AUTH_RE or
PASS_RE matches AUTH_RE (see bench/profile.sh for why). Prints the share of
all samples with a 95 % interval, the share with any AUTH_RE frame (compare PPROF_FOCUS_SHARE,
pprof's own -focus figure for the same regexp), the innermost tokengate
functions of auth's samples, and where the samples under a tokengate frame
but below a pass-through went.
"""

import collections
import math
import re
import sys

# The CPU profiler's sampling period: 100 samples per second of CPU.
PERIOD = 0.01

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "mins": 60, "hrs": 3600}


def value(tok):
    m = re.fullmatch(r"([\d.]+)([a-zµ]+)", tok)
    return float(m.group(1)) * UNITS[m.group(2)]


def read_traces(path):
    """-traces: blocks between "-----------+----" lines; the first line of a
    block is "VALUE leaf", the others its callers, each "func [(inline)]"."""
    samples, block = [], None
    for line in open(path):
        if line.startswith("-----------+"):
            if block:
                samples.append(block)
            block = []
            continue
        if block is None or not line.strip():
            continue
        fields = line.split()
        if not block:
            block.append(value(fields[0]))
            fields = fields[1:]
        if fields and fields[0] != "(inline)":
            block.append(fields[0])
    if block:
        samples.append(block)
    return samples


def package(func):
    """The package path of a function name: up to the first dot after the
    last slash (net/http.(*response).Write -> net/http)."""
    slash = func.rfind("/")
    dot = func.find(".", slash + 1)
    return func[:dot] if dot >= 0 else func


def short(func):
    return func.replace("github.com/tokengate/tokengate/", "").replace("github.com/grpc-ecosystem/", "")


def wilson(k, n, z=1.96):
    """A 95 % Wilson interval for k of n samples being auth's. It treats the
    samples as independent draws, which a profile's are not quite (a call's
    samples come in runs), so the noise is at least this wide."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main():
    path, face, auth_re, pass_re, focus = sys.argv[1:6]
    auth, passed = re.compile(auth_re), re.compile(pass_re)
    samples = read_traces(path)
    total = sum(s[0] for s in samples)
    any_tg = mine = 0.0
    by_func, left_out = collections.Counter(), collections.Counter()
    for v, *stack in samples:
        if not any(auth.search(f) for f in stack):
            continue
        any_tg += v
        first = next(f for f in stack if auth.search(f) or passed.search(f))
        if auth.search(first):
            mine += v
            by_func[first] += v
        else:
            left_out[package(first)] += v
    lo, hi = wilson(round(mine / PERIOD), round(total / PERIOD))
    print(f"  {face}: auth {mine / total:.1%} (95 % interval {lo:.1%}–{hi:.1%}, {round(mine / PERIOD)} of {round(total / PERIOD)} samples) of {total:.2f}s of samples "
          f"(any tokengate frame on the stack: {any_tg / total:.1%}; pprof -focus says {focus})")
    print("    innermost tokengate frame of auth's samples:")
    for f, v in by_func.most_common(8):
        print(f"      {v / total:6.2%}  {short(f)}")
    if left_out:
        print("    left out (under a tokengate frame, but below a pass-through), by the first pass-through frame's package:")
        for f, v in left_out.most_common(5):
            print(f"      {v / total:6.2%}  {short(f)}")


if __name__ == "__main__":
    main()
