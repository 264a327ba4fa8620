"""Where a detector proxy evaluation's seconds go: start-up, data loading, learning, the val pass.

    python -m benchmarks.proxy_cost                          # fcos_tiny's default proxy, 2 runs
    python -m benchmarks.proxy_cost --detector faster_rcnn_tiny --runs 1
    python -m benchmarks.proxy_cost --adapter-option epochs=1 --adapter-option proxy_images=64   # a quick look
    python -m benchmarks.proxy_cost --runs 3 --versus fork_server=false --versus frozen_cache=false   # side by side

Each run is one real ``adapter.proxy`` training of the initial loss (the isolated subprocess of a search), timed
from outside (the whole evaluation) and read from its own log (mmengine's per-iteration ``time`` and
``data_time``) and result (``train_seconds``, ``test_seconds``): start-up = whole - train - test (interpreter,
imports, config, dataset and model building, the pretrained weights); data = the iterations' data time;
learning = the iterations' time less their data time; the rest of the train loop (hooks, the epoch ends).
``--versus KEY=VALUE`` also times the proxy with those options changed, its runs alternating with the
default's (same loss and seeds; machines are noisy, so the two are timed side by side in one run), and prints
the ratio of the mean times. The training process also reports its own CPU seconds (start-up
from the fork or the interpreter's start, training, test): a virtual machine whose host takes time away from it
stretches the wall-clock figures but not these. Writes ``proxy_cost_<detector>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

_ITER = re.compile(r"Epoch\(train\)\s*\[\d+\]\[\s*\d+/\d+\].*?\btime: ([0-9.]+)\s+data_time: ([0-9.]+)")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy_cost", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--detector", default="fcos_tiny")
    parser.add_argument("--runs", type=int, default=2, help="trainings to time (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--versus", action="append", default=[], metavar="KEY=VALUE",
                        help="time the proxy with these adapter options too, alternating with the default")
    parser.add_argument("--out-dir", default="benchmarks/results")
    return parser.parse_args(argv)


def iteration_times(log: str) -> tuple[list[float], list[float]]:
    """The ``time`` and ``data_time`` of every logged training iteration window (mmengine averages over the
    logger interval; the first window includes the first iteration's warm-up)."""
    times, data = [], []
    for match in _ITER.finditer(log):
        times.append(float(match.group(1)))
        data.append(float(match.group(2)))
    return times, data


def _time_run(adapter: object, prefix: str, seed: int) -> dict:
    """One proxy training of ``prefix`` timed from outside and read from its log (module doc)."""
    start = time.perf_counter()
    result = adapter.train(prefix, seed, "proxy")
    whole = time.perf_counter() - start
    logs = sorted(Path(adapter._tmp).glob("proxy-*/train.log"), key=lambda p: p.stat().st_mtime)
    log = logs[-1].read_text(encoding="utf-8", errors="replace") if logs else ""
    times, data = iteration_times(log)
    iters = int(result.get("iters", 0))
    per_iter, per_data = (statistics.fmean(times), statistics.fmean(data)) if times else (0.0, 0.0)
    train, test = float(result["train_seconds"]), float(result["test_seconds"])
    return {"metric": result["metric"], "whole": round(whole, 2), "train": train, "test": test,
            "startup": round(whole - train - test, 2), "iters": iters, "data": round(per_data * iters, 2),
            "learning": round((per_iter - per_data) * iters, 2), "train_rest": round(train - per_iter * iters, 2),
            "cpu": round(sum(float(result.get(f"{k}_cpu_seconds", 0.0)) for k in ("startup", "train", "test")), 2)}


def _mean(rows: list[dict]) -> dict:
    return {k: round(statistics.fmean(r[k] for r in rows), 5 if k == "metric" else 2)
            for k in (rows[0] if rows else {}) if k != "run"}  # fmt: skip


def initial_loss_setup(detector: str, adapter_options: list[str]) -> tuple[dict, str, object]:
    """The adapter options of a timed proxy training (the dataset generated when missing, the work directories
    kept for their logs and specs), the detector's classification space and that space's initial loss L_I."""
    from detectors_adapter.detectors import get_detector
    from gp_autoloss.cli.search_commands import parse_adapter_options
    from gp_autoloss.known import resolve_initial

    options = {"detector": detector, "generate_data": True, **parse_adapter_options(adapter_options),
               "keep_work_dirs": True}  # fmt: skip
    space = get_detector(detector).cls_space
    return options, space, resolve_initial(space)


def main(argv: list[str] | None = None) -> int:
    """Time ``--runs`` proxy trainings and print the breakdown."""
    args = _parse_args(argv)
    from detectors_adapter.fitness import MMDetFitnessAdapter
    from gp_autoloss.cli.search_commands import parse_adapter_options

    options, space, loss = initial_loss_setup(args.detector, args.adapter_option)
    versus = parse_adapter_options(args.versus)
    variants = {"default": options}
    if versus:
        variants["versus"] = {**options, **versus}
    adapters = {name: MMDetFitnessAdapter(space, **opts) for name, opts in variants.items()}
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    try:
        for k in range(args.runs):
            for name, adapter in adapters.items():
                row = _time_run(adapter, loss.to_prefix(), args.seed + k)
                rows[name].append({"run": k, **row})
                print(f"{name} run {k}: {row['whole']:.1f} s = start-up {row['startup']:.1f} + train {row['train']:.1f} "
                      f"(data {row['data']:.1f}, learning {row['learning']:.1f}, rest {row['train_rest']:.1f}; "
                      f"{row['iters']} iterations) + val {row['test']:.1f}; {row['cpu']:.1f} CPU s; mAP {row['metric']:.4f}", flush=True)  # fmt: skip
    finally:
        sizes = dict(adapters["default"].sizes)
        epochs = adapters["default"].epochs
        for adapter in adapters.values():
            adapter.close()
            shutil.rmtree(adapter._tmp, ignore_errors=True)  # kept for the logs (keep_work_dirs); read already
    means = {name: _mean(r) for name, r in rows.items()}
    mean = means["default"]
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"proxy_cost_{args.detector}.json"
    payload = {"detector": args.detector, "space": space, "epochs": epochs, "sizes": sizes,
               "options": {k: v for k, v in options.items() if k != "keep_work_dirs"}, "runs": rows["default"],
               "mean": mean,
               "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                           "date": time.strftime("%Y-%m-%d")}}  # fmt: skip
    if "versus" in rows:
        payload["versus"] = {"options": versus, "runs": rows["versus"],
                             "mean": means["versus"], "ratio": round(mean["whole"] / means["versus"]["whole"], 3),
                             "cpu_ratio": round(mean["cpu"] / means["versus"]["cpu"], 3) if means["versus"]["cpu"]
                             else None}  # fmt: skip
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    for name, m in means.items():
        share = {k: m[k] / m["whole"] for k in ("startup", "data", "learning", "train_rest", "test")}
        print(f"{name}: mean of {len(rows[name])}: {m['whole']:.1f} s, mAP {m['metric']:.4f}; "
              + ", ".join(f"{k} {v:.0%}" for k, v in share.items()))
    if "versus" in rows:
        print(f"default / versus ({' '.join(args.versus)}): {payload['versus']['ratio']:.2f} of the time, "
              f"{payload['versus']['cpu_ratio']} of the training process's CPU seconds")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
