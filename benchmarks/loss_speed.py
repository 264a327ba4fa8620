"""Forward+backward time of compiled losses (``Loss.to_torch()``) against hand-written torch code.

Each known loss is timed next to hand-written torch code for the *same* formula with the *same*
epsilons (``log(p + 1e-20)``, ``a / (b + 1e-20)``), not a fused kernel such as ``F.cross_entropy``:
the question is what the compiler's DAG walk costs, not whether the formula is fast. The two are
measured interleaved in one run (compiled, hand, hand, compiled, ...) and the median of many repeats is
compared; the target is a ratio compiled/hand of at most 1.10.

Usage::

    python -m benchmarks.loss_speed                 # defaults: B=4096, C=81 / 80, 16384 boxes, 1 thread
    python -m benchmarks.loss_speed --repeats 400 --threads 0 --losses ce giou

Writes ``benchmarks/results/loss_speed.csv`` and ``.json`` (or ``--out-dir``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from gp_autoloss import known_loss

__all__ = ["CASES", "Case", "main", "measure"]

EPS = 1e-20  # LOG_EPS and DIV_EPS of the primitives
TARGET_RATIO = 1.10
RESULTS_DIR = Path(__file__).resolve().parent / "results"

Inputs = dict[str, torch.Tensor]
HandFn = Callable[..., torch.Tensor]


# ---- hand-written formulas ---------------------------------------------------------------------------------
def _log(a: torch.Tensor) -> torch.Tensor:
    return torch.log(a + EPS)


def _erf01(a: torch.Tensor) -> torch.Tensor:
    """The rescaled erf of the search space: (erf(sqrt(pi)/4 * a) + 1) / 2."""
    return (torch.erf(math.sqrt(math.pi) / 4.0 * a) + 1.0) / 2.0


def _gd01(a: torch.Tensor) -> torch.Tensor:
    """The rescaled Gudermannian of the search space: (gd(pi/4 * a) * 2/pi + 1) / 2."""
    raw = 2.0 * torch.atan(torch.tanh(math.pi / 4.0 * a / 2.0))
    return (raw * (2.0 / math.pi) + 1.0) / 2.0


def hand_ce(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-dot(y, log(softmax(x)))"""
    return -(y * _log(torch.softmax(x, dim=-1))).sum(dim=-1)


def hand_cei(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-dot(w * y, log(softmax(x)))"""
    return -((w.unsqueeze(-1) * y) * _log(torch.softmax(x, dim=-1))).sum(dim=-1)


def hand_cse_a_cls(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-dot((1 + sin(w)) * y, log(softmax(x)))"""
    return -((1.0 + torch.sin(w)).unsqueeze(-1) * y * _log(torch.softmax(x, dim=-1))).sum(dim=-1)


def hand_fl(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-(y (1 - p)^2 log p + (1 - y) p^2 log(1 - p)), p = sigmoid(x)"""
    p = torch.sigmoid(x)
    q = 1.0 - p
    return -(y * q * q * _log(p) + (1.0 - y) * p * p * _log(q))


def hand_fli(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-w (y (1 - p) log p + (1 - y) p log(1 - p)), p = sigmoid(x)"""
    p = torch.sigmoid(x)
    q = 1.0 - p
    return -(w * (y * q * _log(p) + (1.0 - y) * p * _log(q)))


def hand_cse_b_cls(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """-(wy (1 + erf(sigmoid(1 - y))) log p + (gd(x) - wy)(p - wy) log(1 - p)), p = sigmoid(x)"""
    p = torch.sigmoid(x)
    wy = w * y
    pos = wy * (1.0 + _erf01(torch.sigmoid(1.0 - y))) * _log(p)
    neg = (_gd01(x) - wy) * (p - wy) * _log(1.0 - p)
    return -(pos + neg)


def hand_iou(i: torch.Tensor, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """1 - i / u"""
    return 1.0 - i / (u + EPS)


def hand_giou(i: torch.Tensor, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """1 - i / u + (e - u) / e"""
    return 1.0 - i / (u + EPS) + (e - u) / (e + EPS)


def hand_cse_a_reg(i: torch.Tensor, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """(1 - i / u) + (1 - (i + 2) / e)"""
    return (1.0 - i / (u + EPS)) + (1.0 - (i + 2.0) / (e + EPS))


def hand_cse_b_reg(i: torch.Tensor, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """The authors' tree of CSE-B_reg, written out (constants folded by Python, as a person would)."""
    a = -(-e + (1.0 + i)) / (-(3.0 + (2.0 + u)) + EPS)
    b = e / (e + EPS) + -e / (-1.0 + EPS)
    c = -(u + i / (1.0 + EPS)) / (-3.0 + EPS) + -e
    return -((a + b) / (-c + EPS))


# ---- inputs ----------------------------------------------------------------------------------------------
def softmax_inputs(batch: int, classes: int, gen: torch.Generator) -> Inputs:
    """Logits B x C (background last), one-hot targets, IoU for positives and 1 for negatives."""
    x = torch.randn(batch, classes, generator=gen) * 2.0
    label = torch.randint(0, classes, (batch,), generator=gen)
    y = torch.nn.functional.one_hot(label, classes).to(x.dtype)
    positive = label != classes - 1
    w = torch.where(positive, torch.rand(batch, generator=gen) * 0.9 + 0.05, torch.ones(batch))
    return {"x": x.requires_grad_(), "y": y, "w": w}


def sigmoid_inputs(batch: int, classes: int, gen: torch.Generator) -> Inputs:
    """Logits, binary targets and IoU per (sample, class) element, all B x C."""
    x = torch.randn(batch, classes, generator=gen) * 2.0
    y = (torch.rand(batch, classes, generator=gen) < 0.02).to(x.dtype)
    iou = torch.rand(batch, 1, generator=gen) * 0.9 + 0.05
    w = torch.where(y > 0, iou.expand(batch, classes), torch.ones(batch, classes))
    return {"x": x.requires_grad_(), "y": y, "w": w}


def box_inputs(n: int, gen: torch.Generator) -> Inputs:
    """Intersection, union and enclosing area of random (x1, y1, x2, y2) box pairs, as the heads compute them."""

    def boxes() -> torch.Tensor:
        xy = torch.rand(n, 2, generator=gen) * 100.0
        wh = torch.rand(n, 2, generator=gen) * 50.0 + 1.0
        return torch.cat([xy, xy + wh], dim=1)

    p, t = boxes(), boxes()
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_t = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    lt, rb = torch.max(p[:, :2], t[:, :2]), torch.min(p[:, 2:], t[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    union = area_p + area_t - inter + 1e-7
    enclose = (torch.max(p[:, 2:], t[:, 2:]) - torch.min(p[:, :2], t[:, :2])).prod(dim=1) + 1e-7
    return {"i": inter.requires_grad_(), "u": union.requires_grad_(), "e": enclose.requires_grad_()}


# ---- cases -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One loss to time: its known-loss name, hand-written twin and input builder."""

    name: str
    hand: HandFn
    kind: str  # "softmax", "sigmoid" or "boxes"


CASES: tuple[Case, ...] = (
    Case("ce", hand_ce, "softmax"),
    Case("cei", hand_cei, "softmax"),
    Case("cse_a_cls", hand_cse_a_cls, "softmax"),
    Case("fl", hand_fl, "sigmoid"),
    Case("fli", hand_fli, "sigmoid"),
    Case("cse_b_cls", hand_cse_b_cls, "sigmoid"),
    Case("iou", hand_iou, "boxes"),
    Case("giou", hand_giou, "boxes"),
    Case("cse_a_reg", hand_cse_a_reg, "boxes"),
    Case("cse_b_reg", hand_cse_b_reg, "boxes"),
)


@dataclass
class Result:
    """Timing of one case: medians in microseconds and the ratio compiled / hand."""

    loss: str
    shape: str
    compiled_steps: int
    compiled_us: float
    hand_us: float
    ratio: float
    compiled_iqr_us: float
    hand_iqr_us: float
    repeats: int


def _step(fn: Callable[..., torch.Tensor], inputs: Inputs, grads: list[torch.Tensor]) -> float:
    for t in grads:
        t.grad = None
    start = time.perf_counter()
    fn(**inputs).sum().backward()
    return time.perf_counter() - start


def _iqr(values: list[float]) -> float:
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def build_inputs(case: Case, args: argparse.Namespace, gen: torch.Generator) -> Inputs:
    """The inputs of one case at the sizes asked for on the command line."""
    if case.kind == "softmax":
        return softmax_inputs(args.batch, args.classes, gen)
    if case.kind == "sigmoid":
        return sigmoid_inputs(args.batch, args.sigmoid_classes, gen)
    return box_inputs(args.boxes, gen)


def measure(cases: list[Case], args: argparse.Namespace) -> list[Result]:
    """Time every case, compiled and hand-written interleaved; checks first that both agree."""
    gen = torch.Generator().manual_seed(args.seed)
    prepared = []
    for case in cases:
        inputs = build_inputs(case, args, gen)
        module = known_loss(case.name).to_torch()
        got, want = module(**inputs), case.hand(**inputs)
        if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-5, atol=1e-5, equal_nan=True):
            raise SystemExit(f"loss_speed: compiled {case.name} disagrees with its hand-written formula")
        grads = [t for t in inputs.values() if t.requires_grad]
        for _ in range(args.warmup):
            _step(module, inputs, grads)
            _step(case.hand, inputs, grads)
        prepared.append((case, module, inputs, grads, [], []))
    # One case at a time (its compiled and hand-written runs interleaved): interleaving the cases too let the
    # 4096x81 classification tensors evict the 16384-box regression inputs from the cache between runs, which
    # measured cache misses (boxes at ~300 us instead of ~50 us, with ratios swinging by 10%), not the loss.
    for case, module, inputs, grads, t_comp, t_hand in prepared:
        for r in range(args.repeats):
            # Alternate which goes first so that neither always runs on a warmer cache.
            if r % 2 == 0:
                t_comp.append(_step(module, inputs, grads))
                t_hand.append(_step(case.hand, inputs, grads))
            else:
                t_hand.append(_step(case.hand, inputs, grads))
                t_comp.append(_step(module, inputs, grads))
    results = []
    for case, module, inputs, _grads, t_comp, t_hand in prepared:
        comp, hand = statistics.median(t_comp) * 1e6, statistics.median(t_hand) * 1e6
        shape = "x".join(str(s) for s in next(iter(inputs.values())).shape)
        results.append(
            Result(case.name, shape, module.num_steps, round(comp, 2), round(hand, 2), round(comp / hand, 3),
                   round(_iqr(t_comp) * 1e6, 2), round(_iqr(t_hand) * 1e6, 2), args.repeats)
        )
    return results


def format_table(results: list[Result]) -> str:
    """The results as a fixed-width text table."""
    head = f"{'loss':<10} {'input':>9} {'steps':>5} {'compiled us':>12} {'hand us':>10} {'ratio':>6}  ok"
    lines = [head, "-" * len(head)]
    for r in results:
        ok = "yes" if r.ratio <= TARGET_RATIO else "NO"
        lines.append(f"{r.loss:<10} {r.shape:>9} {r.compiled_steps:>5} {r.compiled_us:>12.1f} {r.hand_us:>10.1f} "
                     f"{r.ratio:>6.3f}  {ok}")
    return "\n".join(lines)


def write_results(results: list[Result], args: argparse.Namespace, out_dir: Path) -> tuple[Path, Path]:
    """Write ``loss_speed.csv`` and ``loss_speed.json`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "loss_speed.csv", out_dir / "loss_speed.json"
    rows = [asdict(r) for r in results]
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "target_ratio": TARGET_RATIO,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "classes": args.classes,
        "sigmoid_classes": args.sigmoid_classes,
        "boxes": args.boxes,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": args.seed,
    }
    json_path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    return csv_path, json_path


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the benchmark."""
    names = [c.name for c in CASES]
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.loss_speed",
        description="Time forward+backward of compiled losses against hand-written torch for the same formulas.",
    )
    p.add_argument("--repeats", type=int, default=200, help="timed runs per loss and implementation (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--batch", type=int, default=4096, help="samples B of the classification losses (default 4096)")
    p.add_argument("--classes", type=int, default=81, help="classes incl. background, softmax_cls (default 81)")
    p.add_argument("--sigmoid-classes", type=int, default=80, help="classes C of sigmoid_cls, B x C (default 80)")
    p.add_argument("--boxes", type=int, default=16384, help="boxes of the regression losses (default 16384)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads, 0 for torch's default (default 1: on a shared machine a second "
                        "thread's wake-up latency swamps what is measured)")
    p.add_argument("--losses", nargs="+", choices=names, default=names, metavar="LOSS",
                   help=f"losses to time (default all: {' '.join(names)})")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help=f"where to write the results (default {RESULTS_DIR})")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit code 0 (the ratios are reported, not enforced)."""
    args = build_parser().parse_args(argv)
    for name, least in (("repeats", 2), ("warmup", 0), ("batch", 1), ("classes", 1), ("sigmoid_classes", 1),
                        ("boxes", 1)):
        if getattr(args, name) < least:
            raise SystemExit(f"loss_speed: --{name.replace('_', '-')} must be at least {least}")
    if args.threads < 0:
        raise SystemExit("loss_speed: --threads must be 0 (torch's default) or more")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cases = [c for c in CASES if c.name in args.losses]
    results = measure(cases, args)
    print(f"forward+backward, median of {args.repeats} interleaved runs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; target ratio <= {TARGET_RATIO}")
    print(format_table(results))
    csv_path, json_path = write_results(results, args, args.out_dir)
    print(f"wrote {csv_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
