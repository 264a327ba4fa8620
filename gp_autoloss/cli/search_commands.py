"""``search``, ``report`` and ``export``: run a search and read it back."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from gp_autoloss.cli.help import registered
from gp_autoloss.cli.option_help import SearchHelp, json_or_text, parse_key_values
from gp_autoloss.cli.registry import command
from gp_autoloss.errors import ConfigError
from gp_autoloss.execution.ray_options import RayOptions

EXAMPLES_SEARCH = """A run directory has one writer: a second search of it (--resume included) exits 2 while the first runs.
On --resume the run file's settings apply, but nothing that runs code comes from it: plugins it needs must be
loaded (installed package, --plugin or GP_AUTOLOSS_PLUGINS), and options that name code (mmdet's config and
cfg_options, --ray-address, --ray-runtime-env) must be given again.

An evaluation's time has one owner, --time-limit: the executor kills an evaluation past it, and an adapter's
own time options (mmdet's time_limit, verify_time_limit) default to it and may not exceed it.
`gp-autoloss search --adapter NAME --executor NAME --help` lists that adapter's and executor's options.

examples:
  # CSE search of the two-stage classification branch with the fast built-in toy adapter
  gp-autoloss search --space softmax_cls --strategy cse --adapter toy --generations 4 --population 50 \\
      --top-k 5 --parents 5 --seed 0 --out runs/cse_toy
  # the same run, continued after an interruption (kill -9 included)
  gp-autoloss search --out runs/cse_toy --resume
  # real tiny FCOS detectors on the generated dataset (see README)
  gp-autoloss search --space sigmoid_cls --adapter mmdet --detector fcos_tiny --out runs/fcos
  # settings from a file, overridden on the command line
  gp-autoloss search --config search.toml --seed 3 --out runs/seed3"""

#: CLI option -> SearchConfig field, for the plain options
_PLAIN = ("space", "strategy", "adapter", "generations", "population", "top_k", "parents", "seed", "p_crossover",
          "p_mutation", "max_depth", "max_size", "time_limit", "memory_limit_mb", "workers", "executor",
          "verify_margin", "tournament_size")  # fmt: skip


def _configure_search(p: argparse.ArgumentParser) -> None:
    # instead of argparse's -h/--help (add_help=False below): it also lists the adapter's and executor's options
    p.add_argument("-h", "--help", action=SearchHelp, help="show this help, then the options of the adapter and "
                   "executor given before it (default toy, local), and exit")  # fmt: skip
    p.add_argument("--out", "-o", required=True, help="run directory (holds run.sqlite, logs, report)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--config", help="settings file (.toml or .json) with SearchConfig fields")
    p.add_argument("--space", help=f"search space: {registered('spaces')} (default softmax_cls)")
    p.add_argument("--strategy", help=f"search strategy: {registered('strategies')} (default cse)")
    p.add_argument("--adapter", help=f"fitness adapter: {registered('adapters')} (default toy)")
    p.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE",
                   help="adapter setting (VALUE parsed as JSON when possible); repeatable; "
                        "--adapter NAME --help lists them")
    p.add_argument("--detector", help="mmdet adapter: fcos_tiny, faster_rcnn_tiny, fcos_r50 or faster_rcnn_r50 "
                                      "(same as --adapter-option detector=NAME)")
    p.add_argument("--generations", "-E", type=int, help="generations E (default 4)")
    p.add_argument("--population", "-N", type=int, help="candidates per generation N (default 50)")
    p.add_argument("--top-k", "-K", dest="top_k", type=int, help="proxy evaluations per generation for cse (default 5)")
    p.add_argument("--parents", "-P", type=int, help="parents kept per generation P (default 5)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--p-crossover", type=float, help="crossover probability p1 (default 0.5)")
    p.add_argument("--p-mutation", type=float, help="mutation probability p2 (default 0.8)")
    p.add_argument("--tournament-size", type=int, help="tournament size (default 3)")
    p.add_argument("--max-depth", type=int, help="tree depth limit (default 8)")
    p.add_argument("--max-size", type=int, help="tree size limit (default 40)")
    p.add_argument("--verify-margin", type=float, help="D_verify threshold slack (default 0)")
    p.add_argument("--time-limit", type=float, help="seconds per evaluation before the executor kills it and fails the "
                                                    "candidate; bounds the adapter's own time options (default 600)")
    p.add_argument("--memory-limit-mb", type=int, help="worker memory limit in MB, 0 for none (default 0)")
    p.add_argument("--workers", type=int, help="parallel local evaluation workers (default 1)")
    p.add_argument("--executor", help="where evaluations run: local (default) or ray (pip install -e .[ray])")
    p.add_argument("--executor-option", action="append", default=[], metavar="KEY=VALUE",
                   help="executor setting (VALUE parsed as JSON when possible); repeatable; "
                        "--executor NAME --help lists them")  # fmt: skip
    for info in RayOptions.infos():  # --ray-KEY VALUE, from the ray executor's declaration
        p.add_argument(f"{RayOptions.flag_prefix}{info.name.replace('_', '-')}", dest=f"ray_{info.name}",
                       type=json_or_text, metavar=_METAVARS.get(info.type_name().split()[0], "VALUE"),
                       help=f"ray executor: {info.help} (default {info.default!r})")  # fmt: skip
    p.add_argument("--initial", dest="initial_formula",
                   help="initial loss L_I: a formula or a known loss name (default: the space's)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or generation log on stderr")


#: how ``--help`` shows the value of a ``--ray-KEY`` flag, by the option's (first) type
_METAVARS = {"str": "TEXT", "int": "INT", "float": "NUMBER", "bool": "true|false", "mapping": "JSON"}


def parse_adapter_options(items: list[str]) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` -> options; values are JSON where they parse as JSON, else strings."""
    return parse_key_values(items, "--adapter-option")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {name: getattr(args, name) for name in _PLAIN}
    over["initial_formula"] = args.initial_formula
    options = parse_adapter_options(args.adapter_option)
    if args.detector:
        options["detector"] = args.detector
    if options:
        over["adapter_options"] = options
    if args.plugin:
        over["plugins"] = list(args.plugin)
    executor_options = {**parse_key_values(args.executor_option, "--executor-option"), **_ray_flags(args)}
    if executor_options:
        over["executor_options"] = executor_options
    return {k: v for k, v in over.items() if v is not None}


def _ray_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--ray-KEY`` values given, as ``executor_options``."""
    given = {key: getattr(args, f"ray_{key}") for key in RayOptions.names()}
    return {k: v for k, v in given.items() if v is not None}


def _check_ray_flags(args: argparse.Namespace, executor: str) -> None:
    given = _ray_flags(args)
    if given and executor != "ray":
        flag = RayOptions.flag_prefix + next(iter(given)).replace("_", "-")
        raise ConfigError(f"{flag} needs --executor ray (the run's executor is {executor!r})")


def _setup_logging(run_dir: Path, quiet: bool) -> None:
    logger = logging.getLogger("gp_autoloss")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fh = logging.FileHandler(run_dir / "search.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(fh)
    if not quiet:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(sh)


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    if quiet:
        return None
    from tqdm import tqdm

    def bar(total: int, desc: str) -> Any:
        return tqdm(total=total, desc=desc, unit="eval", leave=False, file=sys.stderr, dynamic_ncols=True)

    return bar


@command("search", "run a loss search (random, vanilla evolution or CSE-Autoloss)", _configure_search,
         epilog=EXAMPLES_SEARCH, add_help=False)
def run_search(args: argparse.Namespace) -> int:
    from gp_autoloss.search import SearchConfig, SearchEngine, load_config_file

    if not args.out.strip():
        raise ConfigError("--out must name a run directory (an empty one would write the run into the current one)")
    run_dir = Path(args.out)
    overrides = _overrides(args)
    if args.resume:
        if args.config:
            raise ConfigError("--config cannot be combined with --resume (the run keeps its settings)")
        engine = SearchEngine.open(run_dir, overrides=overrides, progress=_progress(args.quiet))
    else:
        base = load_config_file(args.config) if args.config else {}
        if "executor_options" in overrides and isinstance(base.get("executor_options"), dict):
            overrides["executor_options"] = {**base["executor_options"], **overrides["executor_options"]}
        config = SearchConfig.from_dict(base).merged(overrides)
        _check_ray_flags(args, config.executor)
        engine = SearchEngine.create(config, run_dir, progress=_progress(args.quiet))
    from gp_autoloss.reporting.live import live_report

    engine.subscribe(live_report)  # RUN/report.html after L_I and every generation
    _setup_logging(run_dir, args.quiet)
    try:
        summary = engine.run()
    finally:
        engine.close()
    print(f"run:            {run_dir}")
    print(f"initial loss:   {summary.initial_formula}  (proxy {summary.initial_metric})")
    print(f"best loss:      {summary.best_formula}  (proxy {summary.best_metric})")
    print(f"proxy evals:    {summary.proxy_evaluations}   D_verify evals: {summary.verify_evaluations}   "
          f"cache hits: {summary.cache_hits}   candidates: {summary.candidates}")  # fmt: skip
    if summary.budget_evaluations:
        rungs = ", ".join(f"{f} x{n}" for f, n in summary.budget_evaluations.items())
        print(f"rungs:          {rungs}   (all proxy training = {summary.proxy_equivalents:.2f} full proxies)")
    print(f"wall-clock:     {summary.seconds:.1f} s")
    return 0


EXAMPLES_REPORT = """examples:
  gp-autoloss report runs/cse_toy                       # text report and runs/cse_toy/evolution.png
  gp-autoloss report runs/cse_toy --html                # runs/cse_toy/report.html (the search keeps it updated)
  gp-autoloss report runs/random runs/vanilla runs/cse --html compare.html   # runs overlaid in one page
  gp-autoloss report runs/cse_toy --json                # the same data for scripts
  gp-autoloss report runs/cse_toy --html --screenshot report.png   # and a full-page PNG (headless Chromium)
  gp-autoloss report /archive/run_a --output-dir reports/a   # files elsewhere (automatic for a read-only run)"""

_HTML_DEFAULT = "<RUN/report.html>"


def _configure_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--top", type=int, default=10, help="how many best losses to list (default 10)")
    p.add_argument("--json", action="store_true", help="print the report data as JSON")
    p.add_argument("--plot", help="evolution scatter PNG (default RUN/evolution.png for one run)")
    p.add_argument("--html", nargs="?", const=_HTML_DEFAULT, metavar="OUT.html",
                   help="write a self-contained HTML report (default RUN/report.html for one run; "
                        "required for several runs, which are overlaid)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="with --html: open the page in headless Chromium and save a full-page PNG; exit 1 if the "
                        "page logs an error")
    p.add_argument("--screenshot-height", type=int, metavar="PX",
                   help="with --screenshot: only the top PX pixels of the page (default: all of it)")
    p.add_argument("--output-dir", metavar="DIR",
                   help="where evolution.png and report.html go unless --plot/--html name a file (default: the run "
                        "directory; a per-run cache directory when the run directory is read-only)")


@command("report", "best losses, per-stage counts (Table 2) and the evolution scatter (Figure 4)",
         _configure_report, epilog=EXAMPLES_REPORT)
def run_report(args: argparse.Namespace) -> int:
    from gp_autoloss.reporting import format_report, load_run, plot_evolution, run_summary, write_html

    if args.top < 1:
        raise ConfigError("--top must be at least 1")
    if args.html == _HTML_DEFAULT and len(args.runs) > 1:
        raise ConfigError("--html needs an output file (OUT.html) when several runs are compared")
    if args.screenshot and not args.html:
        raise ConfigError("--screenshot needs --html (it is a picture of the HTML report)")
    if args.screenshot_height is not None and (args.screenshot_height < 1 or not args.screenshot):
        raise ConfigError("--screenshot-height needs --screenshot and a positive number of pixels")
    if args.screenshot and not Path(args.screenshot).resolve().parent.is_dir():
        raise ConfigError(f"cannot write {args.screenshot!r}: its directory does not exist")
    runs = [load_run(d) for d in args.runs]
    _note_missing_plugins(runs)
    if args.html:
        out = _default_output(args, runs[0].run_dir, "report.html") if args.html == _HTML_DEFAULT else Path(args.html)
        stream = sys.stderr if args.json else sys.stdout
        print(f"wrote {write_html(runs, out, top=args.top)}", file=stream)
        if args.screenshot and not _screenshot(out, Path(args.screenshot), args.screenshot_height, stream):
            return 1
    if args.json:
        payload = [run_summary(r, top=args.top) for r in runs]
        print(json.dumps(payload if len(payload) > 1 else payload[0], indent=2, default=str))
        return 0
    if args.html and not args.plot:
        return 0
    for r in runs:
        print(format_report(r, top=args.top))
        print()
    plot = args.plot or (str(_default_output(args, runs[0].run_dir, "evolution.png")) if len(runs) == 1 else None)
    if plot:
        try:
            print(f"wrote {plot_evolution(runs, plot)}")
        except OSError as exc:
            raise ConfigError(f"cannot write {plot}: {exc.strerror or exc}") from None
    return 0


def _note_missing_plugins(runs: list[Any]) -> None:
    """Say once per run which of its plugins this call did not load (the report still has every section)."""
    from gp_autoloss.reporting.dags import missing_plugins

    for run in runs:
        missing = missing_plugins(run.config)
        if missing:
            print(f"gp-autoloss: note: {run.run_dir} uses plugin {', '.join(missing)}, not loaded here: its losses "
                  f"are listed without DAGs; give --plugin {missing[0]} to draw them", file=sys.stderr)


def _default_output(args: argparse.Namespace, run_dir: Path, name: str) -> Path:
    """``DIR/name`` for a report file the user did not name: the run directory, or ``--output-dir``, or a cache
    directory when the run directory is read-only (said once on stderr)."""
    from gp_autoloss.reporting.outputs import report_dir

    try:
        directory, note = report_dir(run_dir, args.output_dir)
    except OSError as exc:
        raise ConfigError(f"cannot write report files to {args.output_dir or run_dir}: {exc.strerror or exc}") from None
    if note and not getattr(args, "_noted", False):
        print(f"gp-autoloss: note: {note}", file=sys.stderr)
        args._noted = True
    return directory / name


def _screenshot(page: Path, png: Path, height: int | None, stream: Any) -> bool:
    """Load ``page`` in headless Chromium, save ``png``; ``False`` (after listing them) if the page logged errors."""
    from gp_autoloss.reporting.browser import REPORT_READY, load_page

    seen = load_page(page, screenshot=png, ready_expression=REPORT_READY, max_height=height)
    print(f"wrote {png}", file=stream)
    for line in seen.errors:
        print(f"gp-autoloss: page error: {line}", file=sys.stderr)
    return not seen.errors


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run directory")
    from gp_autoloss.reporting.export import EXPORT_FORMATS

    known = "; ".join(f"{name}: {f.help}" + (f" ({', '.join(f.spaces)})" if f.spaces else "")
                      for name, f in EXPORT_FORMATS.items())  # fmt: skip
    p.add_argument("--format", "-f", default="text", help=f"export format (default text). {known}")


@command("export", "print a run's best loss as a formula, JSON, or a format a plugin adds (mmdet config snippet)",
         _configure_export)
def run_export(args: argparse.Namespace) -> int:
    from gp_autoloss.reporting import export_snippet, load_run

    print(export_snippet(load_run(args.run), args.format))
    return 0
