"""The parity report (models/report/parity.json) as one self-contained HTML page.

Inline CSS and inline SVG only: the page makes no network request, so it opens the same
from a CI artifact, an e-mail attachment or an air-gapped machine. Standard library only.
"""

from __future__ import annotations

import math
from html import escape

_STATUSES = ("pass", "fail", "unavailable", "unsupported", "error")
_FLOOR = -12.0  # log10 of the darkest green: |a-b| of 0 or <= 1e-12
_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{margin:0 0 .2em}h2{margin:1.4em 0 .4em;font-size:1.15em}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta span{margin-right:1.2em}.badge{display:inline-block;padding:1px 8px;border-radius:9px;margin-right:.4em}
.hm td{text-align:center;min-width:7em;font-family:ui-monospace,monospace;font-size:12px}
.hm td a{color:inherit;text-decoration:none;display:block}.hm th.row{text-align:left;font-weight:normal}
.fail,.error{background:#d32f2f;color:#fff;font-weight:bold}.unavailable{background:#ddd;color:#555}.unsupported{background:#ffe0b2;color:#5d4037}
.pass{background:#2e7d32;color:#fff}.none{background:#fff;color:#aaa}
.legend span{display:inline-block;padding:1px 8px;margin-right:3px;font-size:12px;border:1px solid #ccc}
details{margin:.3em 0;border:1px solid #ddd;border-radius:4px;padding:.2em .6em}
summary{cursor:pointer}.reason{color:#b00}svg text{font:10px sans-serif}
"""


def _e(value: object) -> str:
    """Escapes any value (including None) for HTML text and attributes."""
    return escape("" if value is None else str(value), quote=True)


def _num(value: object) -> str:
    """Formats a statistic: floats as 1.2e-07, ints as is, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return "0" if value == 0 else f"{value:.1e}"
    return _e(value)


def _green(max_abs: float | None, atol: float | None) -> str:
    """Background and text colour: darkest at |a-b| <= 1e-12, lightest near atol."""
    if max_abs is None or not math.isfinite(max_abs):
        return "background:#9ccc9c;color:#222"
    top = math.log10(atol) if atol and atol > 10**_FLOOR else _FLOOR + 1
    level = math.log10(max_abs) if max_abs > 0 else _FLOOR
    frac = min(1.0, max(0.0, (level - _FLOOR) / (top - _FLOOR)))
    light = 22 + 63 * frac  # HSL lightness 22% .. 85%
    return f"background:hsl(130,50%,{light:.0f}%);color:{'#fff' if light < 50 else '#222'}"


def _worst(cells: list[dict]) -> tuple[float | None, float | None]:
    """(worst finite max_abs, the atol of that cell) over the finite input sets' cells that have stats
    (the special set's 1e30 rows give huge absolute diffs that are within rtol)."""
    best: tuple[float | None, float | None] = (None, None)
    for cell in [c for c in cells if c.get("input_set") != "special"] or cells:
        value = (cell.get("stats") or {}).get("max_abs")
        if value is not None and math.isfinite(value) and (best[0] is None or value > best[0]):
            best = (value, (cell.get("tolerance") or {}).get("atol"))
    return best


def _aggregate(cells: list[dict]) -> str:
    """One status for an (artifact, runtime) pair over its input sets."""
    statuses = [c.get("status") for c in cells]
    if any(s not in ("pass", "unavailable", "unsupported") for s in statuses):
        return "fail"
    if "pass" in statuses:
        return "pass"
    return "unsupported" if "unsupported" in statuses else "unavailable"


def _tooltip(cells: list[dict]) -> str:
    """One line per input set: status and reason."""
    return "\n".join(
        f"{c.get('input_set')}: {c.get('status')}" + (f" ({c['reason']})" if c.get("reason") else "") for c in cells
    )


def _heat_cell(cells: list[dict] | None, anchor: str | None) -> str:
    """One <td> of the heatmap; text as well as colour carries the status."""
    if not cells:
        return '<td class="none" title="runtime does not load this format">—</td>'
    status = _aggregate(cells)
    title = _e(_tooltip(cells))
    if status == "unavailable":
        return f'<td class="unavailable" title="{title}">n/a</td>'
    if status == "unsupported":
        return f'<td class="unsupported" title="{title}">n/s</td>'
    worst, atol = _worst(cells)
    if status == "fail":
        label = "FAIL" if any(c.get("status") == "fail" for c in cells) else "ERROR"
        text = label + (f" {_num(worst)}" if worst is not None else "")
        style = ""
    else:
        text, style = "pass" if worst is None else _num(worst), f' style="{_green(worst, atol)}"'
    body = f'<a href="#{anchor}">{text}</a>' if anchor else text
    return f'<td class="{status}"{style} title="{title}">{body}</td>'


def _histograms(cells: list[dict]) -> list[tuple[tuple[str, ...], list[int]]]:
    """Histograms summed over input sets; sets whose bin labels differ stay separate."""
    summed: dict[tuple[str, ...], list[int]] = {}
    for cell in cells:
        hist = cell.get("histogram")
        if not hist or not hist.get("labels"):
            continue
        labels = tuple(str(label) for label in hist["labels"])
        counts = summed.setdefault(labels, [0] * len(labels))
        for i, count in enumerate(hist.get("counts") or []):
            if i < len(counts):
                counts[i] += int(count or 0)
    return list(summed.items())


def _svg(labels: tuple[str, ...], counts: list[int]) -> str:
    """A bar chart of |a-b| per decade bin, bin labels rotated under the bars."""
    bar, gap, plot_h, label_h, top = 34, 6, 110, 78, 16
    width, peak = len(labels) * (bar + gap) + gap, max([*counts, 1])
    parts = [
        f'<svg width="{width}" height="{top + plot_h + label_h}" role="img" aria-label="histogram of |a-b|">',
        f'<line x1="0" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#888"/>',
    ]
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        x = gap + i * (bar + gap)
        h = round(plot_h * count / peak) if count else 0
        y = top + plot_h - h
        if count:  # empty bins get only their label
            parts.append(
                f'<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="#4a8fd4">'
                f"<title>{_e(label)}: {count}</title></rect>"
            )
            parts.append(f'<text x="{x + bar / 2}" y="{y - 3}" text-anchor="middle">{count}</text>')
        lx, ly = x + bar / 2, top + plot_h + 10
        parts.append(f'<text x="{lx}" y="{ly}" text-anchor="end" transform="rotate(-45 {lx} {ly})">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stats_table(cells: list[dict]) -> str:
    """Per-input-set statistics of one (artifact, runtime) pair."""
    head = (
        "input set",
        "status",
        "max abs",
        "max rel",
        "max ULP",
        "mismatches",
        "non-finite mism.",
        "min passing atol",
        "atol / rtol",
        "worst index",
        "NaN match",
        "Inf match",
        "reason",
    )
    rows = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for cell in cells:
        s, tol = cell.get("stats") or {}, cell.get("tolerance") or {}
        status = str(cell.get("status"))
        mism = f"{_num(s.get('mismatches'))} / {_num(s.get('count'))}" if s else "—"
        values = [_num(s.get(k)) for k in ("max_abs", "max_rel", "max_ulp")] + [
            mism,
            _num(s.get("nonfinite_mismatches")),
        ]
        values += [_num(s.get("min_passing_atol")), f"{_num(tol.get('atol'))} / {_num(tol.get('rtol'))}"]
        values += [_num(s.get(k)) for k in ("worst_index", "nan_match", "inf_match")]
        cls = status if status in _STATUSES else "error"
        rows.append(
            f'<tr><td>{_e(cell.get("input_set"))}</td><td class="{cls}">{_e(status.upper())}</td>'
            + "".join(f'<td class="num">{v}</td>' for v in values)
            + f'<td class="reason">{_e(cell.get("reason"))}</td></tr>'
        )
    return "".join(rows) + "</table>"


def _header(report: dict) -> str:
    """Title, provenance and the summary counts."""
    summary = report.get("summary") or {}
    keys = [k for k in _STATUSES if k in summary] + sorted(k for k in summary if k not in _STATUSES)
    # a zero count of failures is good news: grey, not red
    badges = "".join(
        f'<span class="badge {_e(k) if k in _STATUSES and summary[k] else "none"}">{_e(k)}: {_e(summary[k])}</span>'
        for k in keys
    )
    seconds = report.get("seconds")
    took = f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "—"
    return (
        f'<h1>deploykit parity report</h1><p class="meta"><span>created {_e(report.get("created"))}</span>'
        f"<span>manifest <code>{_e(report.get('manifest'))}</code></span><span>took {took}</span>"
        f"<span>schema v{_e(report.get('schema_version'))}</span></p><p>{badges}</p>"
    )


def _legend() -> str:
    """Swatches for the heatmap colours and texts."""
    greens = "".join(
        f'<span style="{_green(10.0**exp, 1e-4)}">{text}</span>'
        for exp, text in ((-13, "0 / ≤1e-12"), (-10, "1e-10"), (-8, "1e-08"), (-6, "1e-06"), (-4, "≈ atol"))
    )
    return (
        f'<p class="legend">worst max |a-b| over input sets (shade relative to each cell\'s atol): {greens}'
        '<span class="fail">FAIL / ERROR</span><span class="unavailable">n/a: runtime unavailable</span>'
        '<span class="unsupported">n/s: documented incompatibility</span>'
        '<span class="none">— format not loaded</span></p>'
    )


def _runtimes_table(runtimes: dict) -> str:
    """Name, availability, version or reason, formats of each runtime."""
    rows = ["<table><tr><th>runtime</th><th>available</th><th>version / reason</th><th>formats</th></tr>"]
    for name, info in runtimes.items():
        info = info or {}
        ok = bool(info.get("available"))
        detail = _e(info.get("version")) if ok else f'<span class="reason">{_e(info.get("reason"))}</span>'
        rows.append(
            f'<tr><td>{_e(name)}</td><td class="{"pass" if ok else "unavailable"}">{"yes" if ok else "no"}</td>'
            f"<td>{detail}</td><td>{_e(', '.join(map(str, info.get('formats') or [])))}</td></tr>"
        )
    return "".join(rows) + "</table>"


def render(report: dict) -> str:
    """Renders a parity report dict (the content of parity.json) as one HTML page.

    Args:
        report: the parity report; missing keys and None statistics are shown as "—".
    Returns:
        The page; deterministic for the same input, with no external resources.
    """
    cells = report.get("cells") or []
    runtimes = report.get("runtimes") or {}
    pairs: dict[tuple[str, str], list[dict]] = {}
    for cell in cells:
        artifact = str(cell.get("artifact") or f"{cell.get('model')}/{cell.get('format')}")
        pairs.setdefault((artifact, str(cell.get("runtime"))), []).append(cell)
    artifacts = list(dict.fromkeys(a for a, _ in pairs))  # first-seen order = the verify run's order
    columns = list(dict.fromkeys([str(r) for r in runtimes] + [r for _, r in pairs]))
    ran = [
        (a, r)
        for a in artifacts
        for r in columns
        if (a, r) in pairs and _aggregate(pairs[(a, r)]) not in ("unavailable", "unsupported")
    ]
    anchors = {pair: f"d{i}" for i, pair in enumerate(ran)}  # index ids: names may hold any character

    heat = ['<table class="hm"><tr><th>artifact</th>' + "".join(f"<th>{_e(r)}</th>" for r in columns) + "</tr>"]
    for a in artifacts:
        heat.append(
            f'<tr><th class="row">{_e(a)}</th>'
            + "".join(_heat_cell(pairs.get((a, r)), anchors.get((a, r))) for r in columns)
            + "</tr>"
        )
    heat.append("</table>")

    details = []
    for (a, r), anchor in anchors.items():
        group, status = pairs[(a, r)], _aggregate(pairs[(a, r)])
        worst, _ = _worst(group)
        charts = "".join(f"<div>{_svg(labels, counts)}</div>" for labels, counts in _histograms(group))
        details.append(
            f'<details id="{anchor}"{" open" if status == "fail" else ""}><summary><b>{_e(a)}</b> on '
            f'<b>{_e(r)}</b>: <span class="badge {status}">{status.upper()}</span> worst max abs {_num(worst)}'
            f"</summary>{charts}{_stats_table(group)}</details>"
        )

    sets = report.get("input_sets") or {}
    set_rows = "".join(
        f'<tr><td>{_e(n)}</td><td class="num">{_num((s or {}).get("rows"))}</td>'
        f"<td>{_e((s or {}).get('description'))}</td></tr>"
        for n, s in sets.items()
    )
    return "\n".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>deploykit parity report {_e(report.get('created'))}</title><style>{_CSS}</style></head><body>",
            _header(report),
            "<h2>Artifacts &times; runtimes</h2>",
            _legend(),
            "".join(heat),
            "<h2>Runtimes</h2>",
            _runtimes_table(runtimes),
            "<h2>Input sets</h2><table><tr><th>name</th><th>rows</th><th>description</th></tr>" + set_rows + "</table>",
            (
                "<h2>Details</h2><p>One entry per artifact and runtime that ran; |a-b| histograms over finite pairs, "
                "summed over input sets.</p>"
            ),
            "\n".join(details) or "<p>No runtime ran.</p>",
            "</body></html>\n",
        ]
    )
