"""The report a running search keeps up to date: ``RUN/report.html``, rewritten after every generation.

The driver subscribes it to the engine (the search itself knows nothing of reports)::

    engine.subscribe(live_report)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["live_report", "publish_report", "REPORT_FILE"]

REPORT_FILE = "report.html"

log = logging.getLogger("gp_autoloss.report")


def publish_report(run_dir: str | Path, top: int = 10) -> Path | None:
    """Rewrite ``run_dir/report.html`` atomically from the run file (read-only) and record this process's
    versions and machine once; returns the path, or ``None`` after logging a warning if that failed.

    Never raises (a report must not stop a search), except for ``KeyboardInterrupt`` and ``SystemExit``.
    """
    try:
        from gp_autoloss.reporting.environment import record_session

        record_session(run_dir)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record versions and machine in %s: %s", run_dir, exc)
    try:
        from gp_autoloss.reporting.data import load_run
        from gp_autoloss.reporting.html import write_html

        return write_html([load_run(run_dir)], Path(run_dir) / REPORT_FILE, top, live=True)
    except Exception as exc:  # noqa: BLE001 - any failure here is reported, not raised
        log.warning("could not write %s: %s: %s", Path(run_dir) / REPORT_FILE, type(exc).__name__, exc)
        return None


def live_report(event: Any) -> None:
    """A :meth:`~gp_autoloss.search.SearchEngine.subscribe` callback: rewrite ``report.html`` in the event's run
    directory (a :class:`~gp_autoloss.search.GenerationEvent`) after the initial loss and every generation.
    Never raises, as :func:`publish_report`."""
    publish_report(event.run_dir)
