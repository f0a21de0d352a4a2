"""How a failover drill learns of its disruption: declared by the drill, or detected by `crmdr watch`.

With `--detect watch` the watch probes the primary through the DNS name from before the
disruption; the failover starts only once it declares the outage, and the failover's
`detect` phase spans from the first failed probe to the declaration (recovery/watch/decide.py).
"""

import threading
from dataclasses import replace

from drills.context import DrillContext
from recovery.adapters.health_probe import PrimaryProbe
from recovery.runbooks.run import Options
from recovery.watch.decide import watch_settings
from recovery.watch.loop import BackgroundWatch, declare_outage, outage_journal, prepare_failover

HEALTHY_WITHIN = 30.0
DETECT_WITHIN = 60.0


def start_detection(context: DrillContext) -> BackgroundWatch | None:
    """Start the watch (before the disruption) when the drill detects; None when it declares.

    Either way the failover is made ready first, as the watch service has it before an outage: a
    declared drill measures the same runbook start as a detected one, not botocore loading its models.
    """
    prepare_failover(context.inventory)
    if context.detect != "watch":
        return None
    settings = watch_settings(context.tier)
    watcher = BackgroundWatch(PrimaryProbe(context.inventory, settings.timeout), settings,
                              lifetime=HEALTHY_WITHIN + DETECT_WITHIN + 60)
    watcher.start(HEALTHY_WITHIN)
    return watcher


def detected(context: DrillContext, watcher: BackgroundWatch | None, options: Options) -> Options:
    """Wait for the watch's outage (journal + notice), and hand it to the failover as its detect phase."""
    if watcher is None:
        return options
    found = watcher.detection(DETECT_WITHIN)
    journal = outage_journal(context.inventory, options.journal_dir, drill=True)
    threading.Thread(target=declare_outage, args=(context.inventory, found, journal), name="crmdr-declare").start()
    return replace(options, detection=found)
