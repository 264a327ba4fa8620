"""A test plugin: the real ``toy`` adapter with every metric moved as much as another CPU's kernels move it.

Adapter ``toy_noisy`` trains exactly as ``toy`` does, then shifts the metric by ``+- scale`` times the tolerance
of :data:`tests.stored_runs.compare.TOLERANCE` (``scale`` 0.5: half the tolerance is still more than the largest
difference measured between torch's kernels, 0.0016 at a metric of 0.56 against 0.0019; the tolerance is
twice the shift so that a comparison never fails on what the shift may do to one metric), the sign drawn from the metric itself, the
fidelity and ``noise_seed``: metrics that are exactly equal (losses that train alike, such as every loss that
does not depend on the prediction, whose training leaves the initial model) stay equal, as they do on any CPU,
since they are one computation. A stored run that this noise does not steer onto another path has no
selection decided by a difference smaller than the tolerance, so it holds on a CPU whose kernels differ (see
:mod:`tests.stored_runs`). Imported by the search (``plugins=["tests.noisy_toy_plugin"]``) and its workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gp_autoloss.fitness.base import register_adapter
from gp_autoloss.fitness.toy import ToyAdapter, ToyOptions
from gp_autoloss.loss import Loss
from gp_autoloss.options import option
from tests.stored_runs.compare import TOLERANCE


@dataclass(frozen=True)
class NoisyToyOptions(ToyOptions):
    """The toy adapter's options and the noise's."""

    noise_seed: int = option(1, "draws each metric's shift (+ or - scale times the tolerance)", ge=0)
    scale: float = option(0.5, "the shift as a fraction of the tolerance", ge=0, le=1)


def shift_sign(metric: float, fidelity: str, noise_seed: int) -> int:
    """+1 or -1, a deterministic function of the metric's exact value, the fidelity and the seed."""
    digest = hashlib.sha1(f"{noise_seed}|{fidelity}|{metric!r}".encode()).digest()
    return 1 if digest[0] & 1 else -1


@register_adapter("toy_noisy")
class NoisyToyAdapter(ToyAdapter):
    """``toy`` with each metric shifted by ``+- scale * TOLERANCE.margin(metric)``."""

    options_class = NoisyToyOptions
    opts: NoisyToyOptions

    def _shifted(self, fidelity: str, metric: float) -> float:
        sign = shift_sign(metric, fidelity, self.opts.noise_seed)
        return metric + sign * self.opts.scale * TOLERANCE.margin(metric)

    def verify(self, loss: Loss, seed: int) -> float:
        """The toy D_verify metric, shifted."""
        return self._shifted("verify", super().verify(loss, seed))

    def proxy(self, loss: Loss, seed: int) -> float:
        """The toy proxy metric, shifted."""
        return self._shifted("proxy", super().proxy(loss, seed))

    def proxy_budget(self, loss: Loss, seed: int, budget, state) -> float:  # type: ignore[no-untyped-def]
        """The toy metric of a proxy budget, shifted."""
        return self._shifted(f"proxy@{budget}", super().proxy_budget(loss, seed, budget, state))
