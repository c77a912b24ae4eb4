"""loadgens.py - several loadgens' results as one: what a row needs when its load came from K hosts.

Each loadgen writes its JSON (results/README.md) and, with --hist, every non-empty bucket of its
latency histogram ("value_us count cumulative_fraction", value_us the bucket's middle). Counts add
(requests, bytes, errors by kind, starved), and so do throughputs (each loadgen's requests over its
own window; the windows are one window when the loadgens were started at one --start-at). Latency
percentiles do not add: they come from the histograms merged, found the way the loadgen finds its
own (loadgen/hist.c, hist_quantile: the smallest rank r with r / count >= q, and the value of the
bucket holding it), so the merge of one loadgen's histogram gives back exactly its own figures and
the merge of several is what one loadgen would have reported for all their requests, to within
the bucket (0.4%; an edge bucket's value is clamped to each loadgen's own min or max). The
loadgens' CPU per request is their summed CPU over the summed requests; their utilisation is the
busiest one's, since it is the one that could have set the pace.

    merged_buckets(parts) -> [(value_us, count)], write_hist(f, buckets): the merged histogram
    merge(parts) -> dict shaped like one loadgen's JSON, plus "parts" (the K originals)
    parts: [(loadgen_json_dict, hist_path), ...], in the hosts' order
The merged "window" has no start_ns/end_ns: each host's monotonic clock is its own. It keeps
"seconds" (the mean of the parts') and each part's realtime start under "starts_realtime_ns".
"""

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("p9999", 0.9999))
SUMMED = ("requests", "bytes_in", "bytes_out", "errors", "starved")


class MergeError(Exception):
    pass


def read_hist(path):
    """[(value_us, count), ...] in the file's (ascending) order."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            w = line.split()
            try:
                value, count = float(w[0]), int(w[1])
            except (IndexError, ValueError):
                raise MergeError(f"{path}:{n}: not 'value_us count cumulative': {line.strip()[:80]!r}") from None
            out.append((value, count))
    return out


def quantile(buckets, q):
    """hist_quantile over (value, count) pairs sorted by value."""
    total = sum(c for _, c in buckets)
    if total == 0:
        return 0.0
    rank = int(q * total)  # as hist_quantile does it, in the same doubles
    if rank < q * total:
        rank += 1
    rank = max(rank, 1)
    seen = 0
    for value, count in buckets:
        seen += count
        if seen >= rank:
            return value
    return buckets[-1][0]


def merged_buckets(parts):
    """Every part's histogram buckets, checked against its loadgen's count, sorted by value."""
    buckets = []
    for j, path in parts:
        got = read_hist(path)
        n = sum(c for _, c in got)
        want = (j.get("latency_us") or {}).get("count")
        if want is not None and n != want:
            raise MergeError(f"{path}: {n} values, but its loadgen counted {want}")
        buckets += got
    buckets.sort(key=lambda b: b[0])
    return buckets


def write_hist(f, buckets):
    """buckets (sorted) in the loadgen's --hist format, two parts' buckets of one value as one line,
    so that what reads one loadgen's histogram reads the merged one."""
    joined = []
    for value, count in buckets:
        if joined and joined[-1][0] == value:
            joined[-1][1] += count
        else:
            joined.append([value, count])
    buckets = joined
    total = sum(c for _, c in buckets)
    f.write(f"# value_us count cumulative_fraction (bucket middles; {total} values, merged)\n")
    seen = 0
    for value, count in buckets:
        seen += count
        f.write(f"{value:.3f} {count} {seen / total if total else 0:.9f}\n")


def merge(parts):
    if not parts:
        raise MergeError("no loadgen results to merge")
    js = [j for j, _ in parts]
    out = {k: sum(j.get(k) or 0 for j in js) for k in SUMMED}
    kinds = {}
    for j in js:
        for k, v in (j.get("errors_by_kind") or {}).items():
            kinds[k] = kinds.get(k, 0) + v
    out["errors_by_kind"] = kinds
    out["achieved_rps"] = sum(j.get("achieved_rps") or 0 for j in js)
    offered = [j.get("offered_rps") for j in js]
    out["offered_rps"] = None if any(o is None for o in offered) else sum(offered)
    out["incomplete"] = any(j.get("incomplete") for j in js)
    req = out["requests"]
    for key in ("loadgen_cpu_us_per_req", "loadgen_user_us_per_req"):
        cpu = sum((j.get(key) or 0) * (j.get("requests") or 0) for j in js)
        out[key] = cpu / req if req else None
    out["loadgen_cpu_util"] = max((j.get("loadgen_cpu_util") or 0) for j in js)
    bound = [j.get("loadgen_bound") for j in js]
    out["loadgen_bound"] = None if all(b is None for b in bound) else any(bound)
    out["connect_seconds"] = max((j.get("connect_seconds") or 0) for j in js)

    buckets = merged_buckets(parts)
    count = sum(c for _, c in buckets)
    lat = {name: quantile(buckets, q) for name, q in QUANTILES}
    lat["max"] = max((j.get("latency_us") or {}).get("max", 0) for j in js)
    lat["mean"] = (sum((j["latency_us"].get("mean") or 0) * j["latency_us"].get("count", 0) for j in js) / count
                   if count else 0.0)
    lat["count"] = count
    out["latency_us"] = lat
    out["latency_uncorrected_us"] = None  # --hist writes the corrected histogram only

    seconds = [(j.get("window") or {}).get("seconds") for j in js]
    seconds = [s for s in seconds if s]
    out["window"] = {"seconds": sum(seconds) / len(seconds) if seconds else 0.0,
                     "starts_realtime_ns": [(j.get("window") or {}).get("start_realtime_ns") for j in js]}
    config = dict(js[0].get("config") or {})
    for k in ("connections", "active"):
        config[k] = sum((j.get("config") or {}).get(k) or 0 for j in js)
    config["rate"] = sum((j.get("config") or {}).get("rate") or 0 for j in js)
    config["hosts"] = len(js)
    out["config"] = config
    out["parts"] = js
    return out
