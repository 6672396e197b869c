"""Assemble a self-contained report directory from results: tables, figures, statistics, index.

Layout: ``<out>/<space>/<protocol or custom>/`` with ``tables/``, ``figures/``, ``stats/``,
``index.md`` and ``index.html`` (figures inline), plus ``<out>/index.md`` / ``index.html``
linking every group. Runs of different protocols never share a table: each protocol is a group.
The whole folder is built beside ``--out`` and swapped in at the end (``harness.report.publish``), so
an interrupted build leaves the previous report as it was and nothing of runs no longer present stays.
"""
from __future__ import annotations

import base64
import html
import os
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from harness import atomic
from harness.errors import HarnessError
from harness.protocols import PROTOCOLS
from harness.report import curves, dynamics, figures, final_tables, optima, publish, reference, selection, stats, tables
from harness.report.incumbent import at_checkpoint, incumbents
from harness.report.load import AfterSearch, load_after_search, load_results
from harness.report.plotting import NotDrawn

Say = Callable[[str], None]


def _write_text(path: Path, text: str) -> Path:
    atomic.write_bytes(path, text.encode())
    return path


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.6f", lineterminator="\n")


def _report_caption(manifests: dict, space: str, protocol: str) -> str:
    parts = []
    if protocol and protocol in PROTOCOLS:
        p = PROTOCOLS[protocol]
        parts.append(f"Protocol `{protocol}`: {p.description} ({p.citation}).")
        if p.deviations:
            parts.append(f"Deviation from the source: {p.deviations}")
    else:
        parts.append("Custom settings (no named protocol).")
    reports = sorted({(k[1], tuple(m["report"]["val"]), tuple(m["report"]["test"])) for k, m in manifests.items()
                      if k[0] == space and k[2] == protocol and "report" in m})
    for dataset, val, test in reports:
        parts.append(f"{dataset}: validation column = {val[0]} val@{val[1]} epochs, test column = {test[0]} test@{test[1]} epochs.")
    missing = sorted({msg for k, m in manifests.items() if k[0] == space and k[2] == protocol
                      for msg in m.get("report", {}).get("missing", [])})
    for msg in missing:
        parts.append(f"Not available, shown as n/a: {msg}.")
    return " ".join(parts)


def _settings_notes(manifests: dict, space: str, protocol: str) -> tuple[list[str], int | None]:
    """Budgets/fidelities that differ between runs of one table, and the common query checkpoint."""
    notes, checkpoint = [], None
    by_dataset: dict[str, list] = {}
    for k, m in manifests.items():
        if k[0] == space and k[2] == protocol:
            c = m["config"]
            by_dataset.setdefault(k[1], []).append((k[3], c.get("budget"), c.get("time_budget"), m.get("fidelity"),
                                                    c.get("dedup")))
    budgets = []
    for dataset, runs in sorted(by_dataset.items()):
        for field, idx in (("budget", 1), ("time budget", 2), ("fidelity", 3), ("dedup", 4)):
            values = Counter(r[idx] for r in runs)
            if len(values) > 1:
                detail = ", ".join(f"{s}: {r[idx]}" for s, r in sorted({(r[0], r): None for r in runs}) if r[idx] != values.most_common(1)[0][0])
                notes.append(f"unequal {field} on {dataset}: most runs use {values.most_common(1)[0][0]}, but {detail}")
        budgets += [r[1] for r in runs if r[1] is not None and r[2] is None]
    if budgets:
        checkpoint = Counter(budgets).most_common(1)[0][0]
    return notes, checkpoint


FigureJob = tuple[str, str, str, tuple]
"""(figure name, module of the drawing function, its name, its arguments)."""


def _draw(job: FigureJob) -> tuple[list[Path], str | None]:
    """(files written, None) or ([], why not drawn). The function is looked up when the job runs, so
    a worker forked from this process draws with exactly the functions this process has."""
    _, module, function, args = job
    import importlib  # noqa: PLC0415

    try:
        return getattr(importlib.import_module(module), function)(*args), None
    except NotDrawn as exc:
        return [], str(exc)


def _draw_all(jobs: list[FigureJob], workers: int) -> list[tuple[list[Path], str | None]]:
    """Every job's outcome, in job order. With ``workers`` > 1 (and fork available) the figures are
    drawn by forked processes: each figure is independent, matplotlib renders on one core, and
    rendering is most of a report's time. A worker's exception (Ctrl-C included) is raised here."""
    import multiprocessing as mp  # noqa: PLC0415

    workers = min(workers, len(jobs))
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return [_draw(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    from harness.executors import init_worker_process  # noqa: PLC0415 - Ctrl-C left to us, death with us

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                               initializer=init_worker_process, initargs=(os.getpid(),))
    try:
        return list(pool.map(_draw, jobs))
    finally:  # on Ctrl-C: no new figure starts, and the staged folder is removed only after the workers stop
        pool.shutdown(wait=True, cancel_futures=True)


def build_group(rows: pd.DataFrame, manifests: dict, space: str, protocol: str, out: Path,
                say: Say = lambda line: None, results: Path | None = None, workers: int = 1,
                after: AfterSearch | None = None) -> dict:
    """Every table, statistic and figure of one (space, protocol) group; a figure whose data cannot be
    drawn (``NotDrawn``) is left out, said in one line and noted in the group's index. ``workers``:
    processes that draw the figures (see ``_draw_all``); ``after``: the verified final results
    (``load_after_search``), read from ``results`` when not given."""
    group_dir = out / space / (protocol or "custom")
    not_drawn: list[str] = []
    jobs: list[FigureJob] = []

    inc = incumbents(rows)
    caption = _report_caption(manifests, space, protocol)
    notes, checkpoint = _settings_notes(manifests, space, protocol)
    prot = PROTOCOLS.get(protocol)
    checkpoints = list(prot.checkpoints) if prot and prot.checkpoints else ([checkpoint] if checkpoint else [None])
    layout = tables.LAYOUTS.get(space, tables.search_tables)
    result_tables = layout(inc, space, caption, tables.Checkpoints(prot.checkpoints if prot else None, checkpoint, checkpoints))
    # after the search: Tables 1, 2, 3, 6, 9 and the exact distributions (harness.report.final_tables)
    if after is None and results is not None:
        after = load_after_search(results, manifests)
    after_tables, final_figs = final_tables.final_report(after, manifests, space, protocol, caption,
                                                         group_dir / "figures") if after is not None else ([], [])
    result_tables += after_tables
    files = []
    for t in result_tables:
        t.notes = notes + t.notes
        files.append(_write_text(group_dir / "tables" / f"{t.name}.md", tables.to_markdown(t)))
        files.append(_write_text(group_dir / "tables" / f"{t.name}.tex", tables.to_latex(t)))
        files.append(_write_text(group_dir / "tables" / f"{t.name}.csv", tables.to_csv(t)))
    sel = selection.selection_variants(rows)
    if len(sel):
        files.append(_write_text(group_dir / "tables" / "graph_model_selection.csv", _csv(sel)))
    repro = reference.reproduction_status(inc, space, protocol)
    if len(repro):
        files.append(_write_text(group_dir / "tables" / "reproduction_status.csv", _csv(repro)))
    stat_tables = {}
    figs = list(final_figs)
    for dataset in sorted(rows["dataset"].unique()):
        d_inc = inc[inc["dataset"] == dataset]
        final = at_checkpoint(d_inc, checkpoints[-1])
        final = final[final["reached"]]
        for metric, label in (("inc_report_val", "validation"), ("inc_report_test", "test")):
            if np.isfinite(final[metric].to_numpy(float)).any():
                ci = stats.summary_with_ci(final, metric)
                pw = stats.pairwise_tests(final, metric)
                stat_tables[f"{dataset} {label}: bootstrap 95% CI of the mean"] = ci
                stat_tables[f"{dataset} {label}: Mann-Whitney U, Holm-corrected"] = pw
                files.append(_write_text(group_dir / "stats" / f"{dataset}_{label}_ci.csv", _csv(ci)))
                files.append(_write_text(group_dir / "stats" / f"{dataset}_{label}_pairwise.csv", _csv(pw)))
        title = f"{space} / {dataset} / {protocol or 'custom'}"
        fig_dir = group_dir / "figures"
        optimum = optima.known_optima(manifests, space, dataset, protocol)
        d_rows = rows[rows["dataset"] == dataset]
        jobs += [
            (f"curves_{dataset}", curves.__name__, "plot_curves", (d_inc, title, fig_dir, f"curves_{dataset}", optimum)),
            (f"ranks_{dataset}", curves.__name__, "plot_ranks", (d_inc, "inc_report_val", fig_dir, f"ranks_{dataset}", title)),
            (f"fig3_{dataset}", figures.__name__, "fig3", (d_rows, space, title, fig_dir, f"fig3_{dataset}")),
        ] + _dynamics_jobs(results, manifests, d_inc, space, dataset, protocol, title, fig_dir, say) + [  # one job per strategy (one figure each): the longest drawing, split across the workers
            (f"top_archs_{dataset}", figures.__name__, "draw_top_architectures",
             (d_rows[d_rows["strategy"] == strategy], space, fig_dir, f"top_archs_{dataset}"))
            for strategy in sorted(d_rows["strategy"].unique())
        ]
    for (name, *_), (paths, why_not) in zip(jobs, _draw_all(jobs, workers)):
        figs += paths
        if why_not is not None:
            not_drawn.append(f"{name}: {why_not}")
            say(f"{space}/{protocol or 'custom'}: figure {name} not drawn ({why_not})")
    _write_group_index(group_dir, space, protocol, result_tables, sel, repro, stat_tables, figs, not_drawn)
    return {"dir": group_dir, "tables": result_tables, "files": files + figs, "repro": repro}


def _dynamics_jobs(results, manifests, inc, space, dataset, protocol, title, fig_dir, say: Say) -> list[FigureJob]:
    """The learning-dynamics figure's job where runs of the table traced their generator
    (``harness.dynamics``); every trace that cannot be believed is said in one line here."""
    if results is None or not dynamics.traced(manifests, space, dataset, protocol):
        return []
    traces, problems = dynamics.load_traces(results, manifests, space, dataset, protocol)
    for p in problems:
        say(f"{space}/{protocol or 'custom'}: learning-dynamics trace left out: {p}")
    final = at_checkpoint(inc, None) if len(inc) else inc
    return [(f"dynamics_{dataset}", dynamics.__name__, "plot_dynamics",
             (traces, final, problems, title, fig_dir, f"dynamics_{dataset}"))]


def _md_frame(df: pd.DataFrame) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.3f}"
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join(["---"] * len(df.columns)) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def _figure_order(p: Path) -> tuple[int, str]:
    """Curves, ranks and Fig. 3 before the many top-architecture figures."""
    return (p.stem.startswith("top_archs_"), p.stem)


def _collapsed(title: str, df: pd.DataFrame) -> bool:
    """Long tables (the pairwise tests: one row per pair of strategies) are folded away at the end."""
    return len(df) > 15 or "Mann-Whitney" in title


def _write_group_index(group_dir: Path, space, protocol, result_tables, sel, repro, stat_tables, figs,
                       not_drawn: list[str]) -> None:
    """index.md and index.html: the result tables, then the figures, then the short extra tables, and the
    long pairwise tables last, collapsed (``<details>``)."""
    pngs = sorted((f for f in figs if f.suffix == ".png"), key=_figure_order)
    extra = ([("Graph-model selection variants (paper Table 1: TopK, BEST)", sel)] if len(sel) else []) + \
            ([("Reproduction status (published numbers vs ours)", repro)] if len(repro) else []) + list(stat_tables.items())
    short = [(t, df) for t, df in extra if not _collapsed(t, df)]
    long = [(t, df) for t, df in extra if _collapsed(t, df)]
    md = [f"# {space} — {protocol or 'custom settings'}", ""]
    for t in result_tables:
        md += [tables.to_markdown(t), f"([LaTeX](tables/{t.name}.tex), [CSV](tables/{t.name}.csv))", ""]
    if pngs:
        md += ["## Figures", ""]
        md += [f"![{p.stem}](figures/{p.name}) ([PDF](figures/{p.stem}.pdf))" for p in pngs]
        md += [""]
    if not_drawn:
        md += ["Figures not drawn:", ""] + [f"- {n}" for n in not_drawn] + [""]
    for title, df in short:
        md += [f"## {title}", "", _md_frame(df)]
    for title, df in long:
        md += [f"<details><summary>{html.escape(title)} ({len(df)} rows)</summary>", "", _md_frame(df), "</details>", ""]
    _write_text(group_dir / "index.md", "\n".join(md).rstrip("\n") + "\n")
    body = [f"<h1>{html.escape(space)} — {html.escape(protocol or 'custom settings')}</h1>"]
    for t in result_tables:
        head, grid = tables._grid(t, 2)
        body.append(_html_table(head, grid, t.title))
        body.append(f"<p>{html.escape(t.caption)}</p>" + "".join(f"<p>{html.escape(n)}</p>" for n in t.notes))
    if pngs:
        body.append("<h2>Figures</h2>")
    for p in pngs:
        data = base64.b64encode(p.read_bytes()).decode()
        body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(p.stem)}" '
                    f'style="max-width:100%"><figcaption>{html.escape(p.stem)} '
                    f'(<a href="figures/{html.escape(p.stem)}.pdf">PDF</a>)</figcaption></figure>')
    body += [f"<p>Figure not drawn: {html.escape(n)}</p>" for n in not_drawn]
    for title, df in short:
        body.append(_html_table(list(df.columns), [[_cell(v) for v in r] for r in df.itertuples(index=False)], title))
    for title, df in long:
        table = _html_table(list(df.columns), [[_cell(v) for v in r] for r in df.itertuples(index=False)], title)
        body.append(f"<details><summary>{html.escape(title)} ({len(df)} rows)</summary>{table}</details>")
    _write_text(group_dir / "index.html", _html_page(f"{space} {protocol}", body))


def _cell(v) -> str:
    return "" if isinstance(v, float) and np.isnan(v) else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _html_table(head, rows, title) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<h2>{html.escape(title)}</h2><table><tr>{h}</tr>{b}</table>"


def _html_page(title: str, body: list[str]) -> str:
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
             "summary{cursor:pointer;font-weight:bold;margin:1em 0}figure{margin:1em 0}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"


def _write_index(out: Path, results: Path, rows: pd.DataFrame, groups: list[dict], problems: list) -> None:
    index = [publish.REPORT_TITLE, "", f"Built from `{results}` (trajectories and manifests only).", ""]
    mixed = rows.groupby(["space", "dataset"])["protocol"].nunique()
    for (sp, ds), n in mixed.items():
        if n > 1:
            index.append(f"- {sp}/{ds} has runs under {n} protocols; each protocol has its own tables.")
    for g in groups:
        rel = g["dir"].relative_to(out)
        index.append(f"- [{rel}]({rel}/index.md) ([HTML]({rel}/index.html))")
    if problems:
        index += ["", "## Skipped runs", ""] + [f"- {p}" for p in problems]
    _write_text(out / "index.md", "\n".join(index) + "\n")
    links = "".join(f"<li><a href='{g['dir'].relative_to(out)}/index.html'>{g['dir'].relative_to(out)}</a></li>" for g in groups)
    _write_text(out / "index.html", _html_page("NAS harness report", [f"<h1>NAS harness report</h1><ul>{links}</ul>"]))


def _moved(group: dict, src: Path, dest: Path) -> dict:
    """A group's paths as they are once the built folder ``src`` has become ``dest``."""
    return {**group, "dir": dest / group["dir"].relative_to(src), "files": [dest / f.relative_to(src) for f in group["files"]]}


def build_report(results: Path, out: Path, space: str | None = None, dataset: str | None = None,
                 say: Say | None = None, workers: int = 1) -> list[dict]:
    """Build the report of ``results`` and swap it in for ``out`` whole; ``say`` gets one line per group of
    skipped runs and per figure not drawn. User-fixable problems (no runs, an ``--out`` that is a file or
    not a report, a read-only or full disk) are one-line ``HarnessError``s; ``out`` is then unchanged.
    ``workers``: processes drawing figures (the command line passes the machine's cores); the files
    are the same for any number."""
    say = say or (lambda line: None)
    results, out = Path(results), Path(out)
    loaded = load_results(results, space, dataset, say)
    after = load_after_search(results, loaded.manifests, say)
    if Path(os.path.realpath(out)) in (Path(os.path.realpath(results)), *Path(os.path.realpath(results)).parents):
        raise HarnessError(f"--out {out} holds --results {results}, and the report replaces its folder whole; "
                           f"pass another --out")
    publish.check_destination(out)
    try:
        with publish.staged(out) as tmp:
            groups = [build_group(g, loaded.manifests, sp, prot, tmp, say, results=results, workers=workers, after=after)
                      for (sp, prot), g in loaded.rows.groupby(["space", "protocol"], sort=True)]
            _write_index(tmp, results, loaded.rows, groups, loaded.problems + after.problems)
    except OSError as exc:
        where = f" at {exc.filename}" if getattr(exc, "filename", None) else ""
        raise HarnessError(f"cannot write the report to {out} ({exc.strerror or exc}{where}); free disk space, make it "
                           f"writable or pass another --out (the previous report is unchanged)") from None
    return [_moved(g, tmp, out) for g in groups]
