"""The parity report files: parity.json (everything), parity.md (the matrix), parity.html."""

from __future__ import annotations

import json
from pathlib import Path

STATUS_ORDER = ("error", "fail", "unavailable", "unsupported", "pass")  # the worst status of a pair wins


def pairs(report: dict) -> dict[tuple[str, str], list[dict]]:
    """Cells grouped by (artifact, runtime), in report order."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for cell in report["cells"]:
        grouped.setdefault((cell["artifact"], cell["runtime"]), []).append(cell)
    return grouped


def pair_text(cells: list[dict]) -> str:
    """One matrix cell: the worst status over the input sets, with the largest max abs diff over
    the finite input sets (the special set's 1e30 rows give huge absolute diffs within rtol)."""
    status = min((c["status"] for c in cells), key=STATUS_ORDER.index)
    if status == "unavailable":
        return "n/a"
    if status == "unsupported":
        return "n/s"
    if status == "error":
        return "ERROR"
    finite = [c for c in cells if c["input_set"] != "special"] or cells
    diffs = [c["stats"]["max_abs"] for c in finite if c["stats"] and c["stats"]["max_abs"] is not None]
    worst = f" {max(diffs):.1e}" if diffs else ""
    return ("pass" if status == "pass" else "FAIL") + worst


def markdown(report: dict) -> str:
    grouped = pairs(report)
    artifacts = list(dict.fromkeys(c["artifact"] for c in report["cells"]))
    runtimes = [r for r in report["runtimes"] if any(key[1] == r for key in grouped)]
    lines = [
        "# deploykit parity matrix",
        "",
        (
            f"Manifest `{report['manifest']}`, {report['created']}. Each cell: the worst result over the input sets "
            f"({', '.join(report['input_sets'])}) and the largest max abs diff against the reference over the finite "
            "sets; n/a: the runtime is unavailable here; n/s: a documented incompatibility of the runtime (reasons below)."
        ),
        "",
        "| artifact | " + " | ".join(runtimes) + " |",
        "|---|" + "---|" * len(runtimes),
    ]
    for artifact in artifacts:
        row = [pair_text(grouped[(artifact, r)]) if (artifact, r) in grouped else "" for r in runtimes]
        lines.append(f"| {artifact} | " + " | ".join(row) + " |")
    s = report["summary"]
    totals = (
        f"{s['pass']} passed, {s['fail'] + s['error']} failed, {s['unavailable']} unavailable, "
        f"{s.get('unsupported', 0)} unsupported ({report['seconds']:.1f} s)"
    )
    lines += ["", totals]
    problems = [c for c in report["cells"] if c["status"] in ("fail", "error")]
    if problems:
        lines += ["", "Failures:"] + [
            f"- {c['artifact']} on {c['runtime']} ({c['input_set']}): {c['reason']}" for c in problems
        ]
    unsupported = {(c["runtime"], c["reason"]): None for c in report["cells"] if c["status"] == "unsupported"}
    if unsupported:
        lines += ["", "Unsupported (documented incompatibilities, not failures):"]
        for runtime, reason in unsupported:
            names = sorted(
                {
                    c["artifact"]
                    for c in report["cells"]
                    if c["status"] == "unsupported" and c["runtime"] == runtime and c["reason"] == reason
                }
            )
            lines.append(f"- {runtime} on {', '.join(names)}: {reason}")
    unavailable = {name: r["reason"] for name, r in report["runtimes"].items() if not r["available"]}
    if unavailable:
        lines += ["", "Unavailable runtimes:"] + [f"- {name}: {reason}" for name, reason in unavailable.items()]
    return "\n".join(lines) + "\n"


def write(report: dict, folder: Path) -> list[Path]:
    from builder.verify import report_html

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "parity.json", folder / "parity.md", folder / "parity.html"]
    paths[0].write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    paths[2].write_text(report_html.render(report), encoding="utf-8")
    return paths
