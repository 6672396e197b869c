"""Figures a reviewer would accept (issue 15 item 6): one look per strategy everywhere, at most
MAX_CURVES curves per panel, plain tick labels, regret where the table's optimum is known, means vs time
only where every seed has a value, Fig. 3 as a page-sized grid, top-architecture titles that never
overlap, and an index.html that puts tables and figures first and renders in a real browser."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from test_report import write_run

from blackboxes.nb201.schema import KNOWN_OPTIMUM
from blackboxes.nb201.table import EMBEDDED_DIR
from blackboxes.registry import get_benchmark
from harness import storage
from harness.report import curves, figures, optima
from harness.report.build import build_report
from harness.report.incumbent import incumbents
from harness.report.plotting import MAX_CURVES, strategy_panels, strategy_style
from strategies.registry import STRATEGIES

THIRTEEN = ["bananas", "bohb", "bohb_nb201", "er", "graphpnas", "local_search", "random", "rea", "rea_nb201",
            "reinforce", "rnn", "rnn_graphpnas", "ws"]
PLAIN = re.compile(r"^[−-]?[0-9][0-9,]*(\.[0-9]+)?$")


def keeper(kept: list[Figure]):
    """A stand-in for ``save_figure`` that lays the figure out and keeps it open for inspection."""
    def keep(fig, stem):
        fig.canvas.draw()
        fig.stem = stem.name
        kept.append(fig)
        return []
    return keep


@pytest.fixture
def captured(monkeypatch) -> list[Figure]:
    """Figures the report modules would save, kept instead of being rendered to files."""
    kept: list[Figure] = []
    for module in (curves, figures):
        monkeypatch.setattr(module, "save_figure", keeper(kept))
    return kept


def incumbents_of(results: Path) -> pd.DataFrame:
    from harness.report.load import load_results

    return incumbents(load_results(results).rows)


@pytest.fixture(scope="module")
def thirteen(tmp_path_factory) -> dict[str, Figure]:
    """The curves (error and regret) and rank figures of 13 strategies x 2 seeds, by name."""
    results = tmp_path_factory.mktemp("thirteen")
    for k, name in enumerate(THIRTEEN):
        for seed in (0, 1):
            val = 80 + 11 * np.random.default_rng([k, seed]).random(12)
            write_run(results, name, seed, val=val.tolist(), test=(val - 0.5).tolist())
    inc = incumbents_of(results)
    kept: list[Figure] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(curves, "save_figure", keeper(kept))
        curves.plot_curves(inc, "t", results, "curves")
        curves.plot_curves(inc, "t", results, "regret", optima={"inc_val": 91.5, "inc_report_test": 91.0})
        curves.plot_ranks(inc, "inc_report_val", results, "ranks", "t")
    return {f.stem: f for f in kept}


def lines_of(ax) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


# ---------------------------------------------------------------- one look per strategy


def test_every_shipped_strategy_has_its_own_look():
    looks = {name: strategy_style(name) for name in STRATEGIES.names()}
    pairs = {(s["color"], s["linestyle"]) for s in looks.values()}
    assert len(pairs) == len(looks), "two shipped strategies share a colour and line style"
    assert looks == {name: strategy_style(name) for name in STRATEGIES.names()}  # stable
    assert looks["graphpnas"]["linewidth"] > looks["random"]["linewidth"]  # the paper's method stands out


@given(st.text(min_size=1, max_size=30))
def test_other_names_get_a_stable_look_unlike_any_shipped_one(name):
    if name in STRATEGIES.names():
        return
    look = strategy_style(name)
    assert look == strategy_style(name)
    assert look["linestyle"] not in ("-", "--")  # shipped strategies are solid or dashed


@given(st.lists(st.sampled_from(THIRTEEN + [f"plugin{i}" for i in range(12)]), max_size=25),
       st.lists(st.sampled_from(THIRTEEN), max_size=6))
def test_panels_hold_at_most_max_curves_and_every_strategy(names, featured):
    panels = strategy_panels(names, featured)
    assert all(1 <= len(p) <= MAX_CURVES for p in panels)
    assert {s for p in panels for s in p} == set(names)
    if len(set(names)) <= MAX_CURVES:
        assert len(panels) <= 1
    for p in panels:
        assert len(p) == len(set(p))


def test_curves_and_ranks_split_thirteen_strategies_with_their_looks(thirteen):
    assert sorted(thirteen) == ["curves_vs_queries", "curves_vs_time", "ranks", "regret_vs_queries", "regret_vs_time"]
    featured = set(get_benchmark("nb201").default_strategies)
    for stem, fig in thirteen.items():
        drawn = set()
        for ax in fig.axes:
            lines = lines_of(ax)
            assert len(lines) <= MAX_CURVES, f"{stem}: {len(lines)} curves in one panel"
            for line in lines:
                look = strategy_style(line.get_label())
                assert (line.get_color(), line.get_linestyle()) == (look["color"], look["linestyle"])
                drawn.add(line.get_label())
        assert drawn == set(THIRTEEN), stem
        first = {line.get_label() for line in lines_of(fig.axes[0])}
        assert first == featured, "the first panel is the space's paper comparison"


def test_tick_labels_are_plain_numbers(thirteen):
    for stem, fig in thirteen.items():
        for ax in fig.axes:
            labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
            assert labels and all(PLAIN.match(t) for t in labels), f"{stem}: {labels}"
        scales = {ax.get_yscale() for ax in fig.axes}
        assert scales == ({"symlog"} if stem.startswith("regret") else {"linear"}), stem


def test_regret_axis_with_a_known_optimum(tmp_path, captured):
    write_run(tmp_path, "a", 0, val=[80, 85, 91.5], test=[79, 84, 91.0])
    write_run(tmp_path, "a", 1, val=[82, 90, 90], test=[81, 89, 89])
    inc = incumbents_of(tmp_path)
    curves.plot_curves(inc, "t", tmp_path, "c", optima={"inc_val": 91.5, "inc_report_test": 91.0})
    ax = captured[0].axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] == 0
    y = lines_of(ax)[0].get_ydata()
    np.testing.assert_allclose(y, [(11.5 + 9.5) / 2, (6.5 + 1.5) / 2, (0 + 1.5) / 2])  # optimum - incumbent
    captured.clear()
    curves.plot_curves(inc, "t", tmp_path, "c", optima={"inc_val": 90.0})  # an optimum below a value: not ours
    assert captured[0].axes[0].get_yscale() == "linear"


def embedded_manifest(sha: str) -> dict:
    return {"config": {}, "fidelity": 200, "evaluator": {"table_sha256": sha},
            "report": {"val": ["cifar10-valid", 200], "test": ["cifar10-valid", 200]}}


def test_optimum_of_the_table_a_run_read(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path))  # nothing imported: the shipped table is found
    sha = json.loads((EMBEDDED_DIR / "manifest.json").read_text())["table_sha256"]
    key = ("nb201", "cifar10-valid", "", "random", 0)
    found = optima.known_optima({key: embedded_manifest(sha)}, "nb201", "cifar10-valid", "")
    column, _, value = KNOWN_OPTIMUM
    assert column == "cifar10-valid/val@200" and round(found["inc_val"], 2) == value
    assert 90 < found["inc_report_test"] < 92
    assert optima.known_optima({key: embedded_manifest("0" * 64)}, "nb201", "cifar10-valid", "") == {}
    assert optima.known_optima({key: embedded_manifest(sha)}, "randwire", "digits", "") == {}


# ---------------------------------------------------------------- means where every seed has a value


def test_mean_vs_time_starts_at_the_last_seeds_first_point(tmp_path):
    write_run(tmp_path, "a", 0, val=[50, 60, 70], test=[50, 60, 70])
    write_run(tmp_path, "a", 1, val=[80, 81, 82], test=[80, 81, 82])
    inc = incumbents_of(tmp_path)
    inc.loc[inc["seed"] == 1, "cost_cum_s"] += 150.0  # seed 1 reports first at 250 s
    grid = np.array([100.0, 200, 250, 300, 1000])
    band = curves.mean_band(curves.curve_frame(inc, "cost_cum_s", grid, "inc_val"))
    assert band["mean"].isna().tolist() == [True, True, False, False, False]
    assert band["mean"].tolist()[2:] == [(60 + 80) / 2, (70 + 80) / 2, (70 + 82) / 2]  # carried forward


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(0, 100), min_size=1, max_size=6),
                          st.lists(st.floats(1, 500), min_size=6, max_size=6)), min_size=1, max_size=4))
def test_mean_incumbent_never_gets_worse_over_time(runs):
    frames = []
    for seed, (vals, costs) in enumerate(runs):
        best = np.maximum.accumulate(vals)
        frames.append(pd.DataFrame({"space": "s", "dataset": "d", "protocol": "", "strategy": "a", "seed": seed,
                                    "cost_cum_s": np.cumsum(costs[:len(vals)]), "inc_val": best}))
    inc = pd.concat(frames, ignore_index=True)
    grid = np.geomspace(1, 3000, 50)
    mean = curves.mean_band(curves.curve_frame(inc, "cost_cum_s", grid, "inc_val"))["mean"].dropna().to_numpy()
    assert (np.diff(mean) >= -1e-9).all()


# ---------------------------------------------------------------- Fig. 3 and top architectures


def write_space_run(out: Path, space: str, dataset: str, strategy: str, seed: int, n: int) -> None:
    """A complete run of random architectures of ``space`` with made-up accuracies."""
    rng = np.random.default_rng([seed, len(strategy)])
    sp = get_benchmark(space).make_space(dataset)
    archs = [sp.to_str(sp.sample(rng)) for _ in range(n)]
    val = (60 + 30 * rng.random(n)).tolist()
    q = list(range(n))
    rows = dict(schema_version=[storage.SCHEMA_VERSION] * n, run_id=["x"] * n, protocol=[""] * n, space=[space] * n,
                dataset=[dataset] * n, strategy=[strategy] * n, seed=[seed] * n, query=q, batch=q, arch=archs,
                arch_id=archs, status=["ok"] * n, duplicate=[False] * n, charged=[True] * n,
                queries_charged=[i + 1 for i in q], fidelity=[1] * n, bench_seed=[-1] * n, val_acc=val, test_acc=val,
                cost_s=[10.0] * n, cost_cum_s=[10.0 * (i + 1) for i in q], report_val_acc=val, report_test_acc=val,
                error=[""] * n, extra=[""] * n)
    timing = dict(query=q, wall_s=[0.0] * n, eval_s=[0.0] * n, strategy_s=[0.0] * n)
    cfg = dict(space=space, dataset=dataset, strategy=strategy, seed=seed, budget=n, time_budget=None,
               dedup="per-call", protocol="")
    manifest = dict(schema_version=storage.SCHEMA_VERSION, run_id="x", status="complete", config=cfg, fidelity=1)
    storage.write_run(storage.RunPaths.of(out, space, dataset, strategy, seed),
                      storage.to_table(rows, storage.TRAJECTORY_SCHEMA), storage.to_table(timing, storage.TIMING_SCHEMA),
                      manifest)


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_fig3_is_a_grid_that_fits_a_page(tmp_path):
    for name in ["er", "ws", "rnn", "graphpnas", "random", "rea"]:
        write_space_run(tmp_path / "results", "randwire", "digits", name, 0, 6)
    from harness.report.load import load_results

    rows = load_results(tmp_path / "results").rows
    png = figures.fig3(rows, "randwire", "randwire / digits", tmp_path, "fig3")[0]
    from PIL import Image

    width, height = Image.open(png).size
    assert width <= 1700 and 0.8 < width / height < 3, (width, height)  # 6 panels: 4 + 2, not a 6 x 1 strip


def test_top_architecture_titles_never_overlap(tmp_path, captured):
    write_run(tmp_path / "results", "graphpnas", 0, val=[91.61, 91.55, 91.53], test=[91.09, 91.25, 91.17])
    from harness.report.load import load_results

    figures.draw_top_architectures(load_results(tmp_path / "results").rows, "nb201", tmp_path, "top")
    fig = captured[0]
    renderer = fig.canvas.get_renderer()
    boxes = [fig._suptitle.get_window_extent(renderer)] + [ax.title.get_window_extent(renderer) for ax in fig.axes]
    assert len(boxes) == 4
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlaps(a, b), "two titles overlap"


# ---------------------------------------------------------------- index.html


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> Path:
    """A real report (rendered figures) of three strategies, two seeds."""
    root = tmp_path_factory.mktemp("small-report")
    for k, name in enumerate(["random", "rea_nb201", "graphpnas"]):
        for seed in (0, 1):
            val = (85 + 6 * np.random.default_rng([k, seed]).random(10)).tolist()
            write_run(root / "results", name, seed, val=val, test=val)
    build_report(root / "results", root / "report")
    return root / "report" / "nb201" / "custom"


def test_index_puts_tables_and_figures_first_and_folds_pairwise_tables(small_report):
    page = (small_report / "index.html").read_text()
    table, figure = page.index("<table>"), page.index("<img ")
    pairwise = page.index("Mann-Whitney")
    assert table < figure < pairwise
    assert page.rfind("<img ") < pairwise
    folded = re.findall(r"<details><summary>([^<]*)</summary>", page)
    assert len(folded) == 2 and all("Mann-Whitney" in t for t in folded)  # validation and test, each folded
    assert page.index("curves_cifar10-valid_vs_queries") < page.index("top_archs_")
    md = (small_report / "index.md").read_text()
    assert md.index("## Figures") < md.index("<details><summary>cifar10-valid validation: Mann-Whitney")


def test_index_html_renders_in_headless_chromium(small_report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    shot = tmp_path / "index.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2400", (small_report / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    assert pixels.shape[:2] == (2400, 1200)
    ink = (pixels.sum(axis=2) < 600).mean()  # anything but white-ish
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    assert ink > 0.02, "the page renders (nearly) blank"
    assert colours > 50, "no figure on the first 2400 px (only text and tables)"
