"""The table of two servers loaded side by side (bench/refusal.sh window and floor).

    python3 bench/pair_table.py RESULTS FIRST SECOND NUM HEADER

RESULTS holds one line per server and batch, tab-separated: load, delay,
batch, server, CPU ns, bytes read (rchar), bench/refuse's JSON report.
FIRST and SECOND are the servers' names, each optionally NAME=LABEL for the
printed name; their rows are printed in that order for every (load, delay).
On SECOND's row comes the ratio of CPU per call, NUM (FIRST or SECOND, by
name) over the other, with a bootstrap 95 % confidence interval over the
batch pairs, under HEADER. The windows each server advertised are printed
when bench/refuse ran with -probe.
"""
import json
import random
import sys


def main():
    path, first, second, num, header = sys.argv[1:6]
    (a, a_label), (b, b_label) = (s.split("=", 1) if "=" in s else (s, s) for s in (first, second))
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    rng = random.Random(1)
    width = max([13] + [len(r[0]) for r in rows])
    print(f"   {'load':{width}} {'delay':5} {'server':6} {'calls/s':>8} {'µs/call':>8} {'KiB read/call':>13} "
          f"{'KiB sent/call':>13} {'stream windows advertised':>26} {header + ' (95% CI)':>37}")
    seen = []
    for r in rows:
        if (r[0], r[1]) not in seen:
            seen.append((r[0], r[1]))
    for load, delay in seen:
        per = {}
        for srv, label in ((a, a_label), (b, b_label)):
            sel = [r for r in rows if r[0] == load and r[1] == delay and r[3] == srv]
            js = [json.loads(r[6]) for r in sel]
            calls = sum(j["answered"] for j in js)
            cpu = sum(int(r[4]) for r in sel)
            per[srv] = [(int(r[4]), j["answered"]) for r, j in zip(sel, js)]
            wins = "-"
            probes = [j.get("probe") for j in js if j.get("probe")]
            if probes:
                later = [w for p in probes for w in (p.get("later_stream_windows") or [])]
                init = probes[0].get("initial_settings", {}).get("INITIAL_WINDOW_SIZE", 65535)
                wins = f"{init}" + (f" grown to {max(later)}" if later else " fixed")
            row = (f"   {load:{width}} {delay:5} {label:6} {calls / sum(j['elapsed_s'] for j in js):8.0f} "
                   f"{cpu / calls / 1e3:8.1f} {sum(int(r[5]) for r in sel) / calls / 1024:13.1f} "
                   f"{sum(j['bytes_sent'] for j in js) / calls / 1024:13.1f} {wins:>26}")
            if srv == b:
                den = b if num == a else a
                pairs = list(zip(per[num], per[den]))
                boots = sorted(ratio(rng.choices(pairs, k=len(pairs))) for _ in range(2000))
                row += f" {ratio(pairs):10.2f} ({boots[49]:.2f}-{boots[1949]:.2f})"
            print(row)
    print("   (KiB read/call: the server's rchar over the calls; KiB sent/call: what bench/refuse wrote; delay: answers held that")
    print("    long before the client sees them; windows: SETTINGS_INITIAL_WINDOW_SIZE the server sent, first and largest)")


def ratio(pairs):
    """CPU per call of the numerator's batches over the denominator's."""
    n = sum(p[0][0] for p in pairs) / sum(p[0][1] for p in pairs)
    d = sum(p[1][0] for p in pairs) / sum(p[1][1] for p in pairs)
    return n / d


if __name__ == "__main__":
    main()
