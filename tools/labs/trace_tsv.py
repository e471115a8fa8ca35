#!/usr/bin/env python3
"""Select events from a `tunstack sim --trace` file (JSON lines, docs/trace-schema.md).

usage: trace_tsv.py FILE [KEY=VALUE ...] -- FIELD [FIELD ...]
Prints the FIELDs (tab-separated; "-" when absent, "inf" for a null ssthresh) of every event whose
KEYs equal the VALUEs (compared as strings, e.g. ev=send host=client cause=rto).
Example: trace_tsv.py run.jsonl ev=cwnd host=client -- t cwnd ssthresh reason
"""
import json
import sys

args = sys.argv[1:]
if "--" not in args or not args:
    sys.exit(__doc__)
sep = args.index("--")
path, filters, fields = args[0], args[1:sep], args[sep + 1:]
want = dict(f.split("=", 1) for f in filters)
with open(path) as f:
    for line in f:
        ev = json.loads(line)
        if all(str(ev.get(k)) == v for k, v in want.items()):
            out = []
            for k in fields:
                v = ev.get(k, "-")
                out.append("inf" if v is None else str(v))
            print("\t".join(out))
