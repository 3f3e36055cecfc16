"""bench.json, bench.md and a self-contained bench.html (plots as inline PNG) from one bench run."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from builder.bench import kernels, stats

# Each client CLI against the same artifact run in-process from Python, for scale. The per-call
# overhead itself is measured inside each client against its bare runtime call
# (`direct_latency_us` in the timing JSON), in the same process and interleaved.
CLIENT_BASELINES = {"cpp": "libtorch-native", "java": "tf-python", "go": "tf-python"}


def _fmt(x, spec: str = ".3g") -> str:
    return "" if x is None else format(x, spec)


def overheads(rows: list[dict]) -> list[dict]:
    """Batch-1 p50 of each client's predict over its bare runtime call in the same process."""
    return [
        {
            "model": r["model"],
            "format": r["format"],
            "client": r["runtime"],
            "baseline": r.get("direct", "bare runtime call"),
            "client_us": r["latency_us"]["p50"],
            "direct_us": r["direct_latency_us"]["p50"],
            "ratio": r["latency_us"]["p50"] / r["direct_latency_us"]["p50"],
            "interval": r.get("overhead_interval"),
        }
        for r in rows
        if r["status"] == "ok" and r.get("direct_latency_us")
    ]


def _ratio(overhead: dict) -> str:
    """The ratio with its 95% interval, or marked as a bare ratio when the client sent no samples."""
    if overhead["interval"]:
        return stats.describe(overhead["interval"])
    return f"{overhead['ratio']:.2f}x (no samples, no interval)"


def peer_rows(rows: list[dict]) -> list[dict]:
    """Each client row's peers (bench/peers.py), one item per batch; a peer that did not run is one
    item with its status and reason."""
    out = []
    for r in rows:
        for p in r.get("peers", []):
            base = {
                "model": r["model"],
                "client": r["runtime"],
                "client_format": p["client_format"],
                "peer": p["peer"],
                "peer_format": p["peer_format"],
                "status": p["status"],
                "reason": p.get("reason"),
            }
            if p["status"] != "ok":
                out.append(base)
                continue
            for b in p["batches"]:
                out.append(
                    base
                    | {k: b[k] for k in ("batch", "client_us", "peer_us", "ratio", "interval")}
                    | {"client_runtime": p["client_runtime"], "peer_runtime": p["peer_runtime"], "how": p["how"]}
                )
    return out


def _how(peer: dict) -> str:
    """How the client and its peer ran: versions, wasm binaries and threads where a page ran them."""
    how = peer["how"]
    if "tfjs_backend" in how:
        isolated = "cross-origin isolated" if how.get("cross_origin_isolated") else "not cross-origin isolated"
        return (
            f"{peer['client_runtime']} {how['tfjs_backend']} ({how.get('tfjs_wasm_variant')}, "
            f"{how.get('tfjs_threads')} thread(s)); {peer['peer_runtime']} wasm ({how.get('peer_wasm_binary')}, "
            f"{how.get('peer_threads')} thread(s)); {isolated}"
        )
    return f"{peer['client_runtime']}; {peer['peer_runtime']}: {how.get('peer_inputs', '')}"


def _peers_markdown(rows: list[dict], machine: dict) -> list[str]:
    peers = peer_rows(rows)
    if not peers:
        return []
    lines = [
        "",
        (
            "## Peers (the runtime a user would otherwise pick: same model, same process, interleaved blocks; "
            "ratio = the client's p50 / the peer's, above 1: the peer is faster)"
        ),
        "",
        "| model | batch | client (format) | client us | peer (format) | peer us | ratio [95% interval] | how they ran |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in peers:
        client, peer = f"{p['client']} ({p['client_format']})", f"{p['peer']} ({p['peer_format']})"
        if p["status"] != "ok":
            lines.append(f"| {p['model']} | | {client} | | {peer} | | {p['status']}: {p['reason']} | |")
            continue
        lines.append(
            f"| {p['model']} | {p['batch']} | {client} | {p['client_us']:.1f} | {peer} | {p['peer_us']:.1f} | "
            f"{stats.describe(p['interval'])} | {_how(p)} |"
        )
    noisy = [p for p in peers if p["status"] == "ok" and p["interval"]["too_wide"]]
    if noisy:
        lines += [
            "",
            (
                f"{len(noisy)} peer intervals are wider than {stats.TOO_WIDE:.0%} of their ratio: too noisy to judge "
                f"(load average {machine.get('load_average')}, {machine['cores']} cores)."
            ),
        ]
    return lines


def first_prediction_markdown(rows: list[dict]) -> list[str]:
    """The demo page's first visit per model (bench/peers.py) against its target."""
    visits = [r["first_prediction"] for r in rows if r.get("first_prediction")]
    if not visits:
        return []
    lines = [
        "",
        "## Page start to first prediction (Chromium, a fresh profile per visit, the page's own backend)",
        "",
        "A model the page predicts only once a digit is drawn (the CNNs) is timed to 'model ready'.",
        "",
        "| model | page start to | median ms | visits ms | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for v in visits:
        verdict = "met" if v["median_ms"] <= v["target_ms"] else "missed"
        visits_ms = ", ".join(f"{x:.0f}" for x in v["trials_ms"])
        until = v.get("until", "first prediction")
        lines.append(
            f"| {v['model']} | {until} | {v['median_ms']:.0f} | {visits_ms} | <= {v['target_ms']:.0f} | {verdict} |"
        )
    return lines


def versus_python(rows: list[dict]) -> list[dict]:
    """Batch-1 p50 of each client over the same artifact run in-process from Python, where both ran."""
    ok = {(r["model"], r["format"], r["runtime"]): r for r in rows if r["status"] == "ok"}
    out = []
    for (model, fmt, runtime), row in ok.items():
        base = ok.get((model, fmt, CLIENT_BASELINES.get(runtime, "")))
        if base:
            ratio = row["latency_us"]["p50"] / base["latency_us"]["p50"]
            out.append({"model": model, "format": fmt, "client": runtime, "baseline": base["runtime"], "ratio": ratio})
    return out


def _throughput(row: dict) -> str:
    """The row's throughput in its model's unit (rows/s, images/s, tokens/s)."""
    t = row.get("throughput") or {"unit": "rows/s", "value": row["rows_per_s"]}
    return f"{t['value']:.3g} {t['unit']}"


def markdown(result: dict) -> str:
    m, g = result["machine"], result["gemm"]
    peak = g["peak_gflops"]
    lines = [
        "# deploykit bench",
        "",
        f"{m['cpu']}, {m['cores']} cores, governor {m.get('governor', 'unknown')}, load average "
        f"{' '.join(str(x) for x in m.get('load_average', [])) or 'unknown'}. float32 GEMM peak ({g['n']}x{g['n']}): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in g["gflops"].items())
        + ".",
        "",
        "## Inference",
        "",
        "batch-1 latency in microseconds; throughput at batch 1024; % of the GEMM peak.",
        "",
        "| model | format | runtime | load ms | first ms | p50 us | p90 us | p99 us | throughput (batch 1024) | GFLOP/s | % peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["inference"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['format']} | {r['runtime']} | {r['status']}: {r['reason']} |||||||| ")
            continue
        lat = r["latency_us"]
        lines.append(
            f"| {r['model']} | {r['format']} | {r['runtime']} | {r['load_ms']:.1f} | {r['first_ms']:.2f} | {lat['p50']:.1f} | "
            f"{lat['p90']:.1f} | {lat['p99']:.1f} | {_throughput(r)} | {r['gflops']:.2f} | {100 * r['gflops'] / peak:.1f} |"
        )
    over = overheads(result["inference"])
    lines += [
        "",
        "## Client overhead (batch-1 p50: the client's predict / the bare runtime call, same process, interleaved)",
        "",
    ]
    if over:
        lines += [
            "| model | format | client | predict us | bare us | ratio [95% interval] | bare call |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {o['model']} | {o['format']} | {o['client']} | {o['client_us']:.1f} | {o['direct_us']:.1f} | "
            f"{_ratio(o)} | {o['baseline']} |"
            for o in over
        ]
        noisy = [o for o in over if o["interval"] and o["interval"]["too_wide"]]
        if noisy:
            lines += [
                "",
                (
                    f"{len(noisy)} of {len(over)} intervals are wider than {stats.TOO_WIDE:.0%} of their ratio: this "
                    f"run cannot judge them against a target (load average {m.get('load_average')}, "
                    f"{m['cores']} cores)."
                ),
            ]
    else:
        lines += ["- no client reported a bare-call timing here"]
    lines += _peers_markdown(result["inference"], m)
    lines += first_prediction_markdown(result["inference"])
    lines += kernels.markdown(result["inference"], peak)
    scale = versus_python(result["inference"])
    if scale:
        lines += [
            "",
            "## Clients against the same artifact run from Python (batch-1 p50 ratio; below 1: the client is faster)",
            "",
        ]
        lines += [f"- {o['model']}/{o['format']}: {o['client']} / {o['baseline']} = {o['ratio']:.2f}x" for o in scale]
    if result.get("training"):
        lines += [
            "",
            "## Training steps/s (median over repeats, min-max)",
            "",
            "| framework | model | mode | batch | steps/s | min-max | vs eager | compile s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t in result["training"]:
            lines.append(
                f"| {t['framework']} | {t['model']} | {t['mode']} | {t['batch']} | {t['steps_per_s_median']:.1f} | "
                f"{t['steps_per_s_min']:.1f}-{t['steps_per_s_max']:.1f} | {_fmt(t['speedup_vs_eager'], '.2f')}x | {_fmt(t.get('compile_s'), '.1f')} |"
            )
    lines += ["", f"Command: `{result['command']}`; {result['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bars(labels: list[str], values: list[float], xlabel: str, title: str, log: bool = True) -> str:
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(labels) + 1.2))
    ax.barh(labels, values, color="tab:blue")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _png(fig)


def html_page(result: dict) -> str:
    ok = [r for r in result["inference"] if r["status"] == "ok"]
    names = [f"{r['model']}/{r['format']} @ {r['runtime']}" for r in ok]
    images = []
    if ok:
        images.append(_bars(names, [r["latency_us"]["p50"] for r in ok], "p50 latency at batch 1 (us)", "Latency"))
        images.append(_bars(names, [r["rows_per_s"] for r in ok], "rows/s at batch 1024", "Throughput"))
    if result.get("training"):
        compiled = [t for t in result["training"] if not t["eager"]]
        images.append(
            _bars(
                [f"{t['framework']} {t['model']} {t['mode']}" for t in compiled],
                [t["speedup_vs_eager"] for t in compiled],
                "speed-up over the eager mode (x)",
                "Training: compiled vs eager",
            )
        )
    body = "".join(f'<p><img alt="plot" src="data:image/png;base64,{img}"></p>' for img in images)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>deploykit bench</title>'
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style>"
        f"</head><body><h1>deploykit bench</h1>{body}<pre>{html.escape(markdown(result))}</pre></body></html>\n"
    )


def write(result: dict, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "bench.json", folder / "bench.md", folder / "bench.html"]
    paths[0].write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(result), encoding="utf-8")
    paths[2].write_text(html_page(result), encoding="utf-8")
    return paths
