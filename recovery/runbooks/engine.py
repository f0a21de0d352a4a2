"""The step engine: check (already done?) -> guard -> act with bounded retries -> verify -> journal.

Because every step first asks its `check`, a re-run or a `--resume` skips what is already in
place and never repeats a side effect. Retries (tenacity) cover host errors and transient cloud
errors only (`CloudError.retryable`: not AccessDenied); a refusal or a failed verification stops the run.

Test hooks (environment): `CRMDR_TEST_CRASH_AT=STEP` exits the process hard once STEP's
effect is in place (after its action, or after a check found it done) but before the
journal says so: the worst moment for a resume;
`CRMDR_TEST_HOLD_AT=STEP:FILE` waits before STEP until FILE exists (creating `FILE.held` once it waits,
so a test knows the run stands exactly there).
"""

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tenacity import (
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

from policies.errors import CloudError, DrError, HostError, Refused, VerificationFailed
from recovery.runbooks.decisions import Truth
from recovery.runbooks.journal.events import Status
from recovery.runbooks.journal.files import Journal

log = logging.getLogger(__name__)

CRASH_EXIT = 137
HOLD_LIMIT_SECONDS = 600


@dataclass(frozen=True)
class Step:
    """One idempotent unit of a runbook."""

    name: str
    describe: str
    phase: str
    check: Callable[[], Truth]
    act: Callable[[], str]
    verify: Callable[[], Truth] | None = None
    guard: Callable[[], str | None] | None = None
    timeout: float = 60.0
    attempts: int = 3


def safe_check(step: Step) -> Truth:
    """A check that cannot reach its host answers 'not done', with the reason."""
    try:
        return step.check()
    except DrError as err:
        return Truth(False, f"unknown ({err})")


SURVEY_THREADS = 4


def survey(steps: Sequence[Step]) -> list[tuple[str, str, Truth]]:
    """Each step with its check's current truth; reads only (the dry run). The checks run four at a time:
    they only read, and one after the other they were ~10 SSH, SQL, DNS and AWS round trips before a
    failover's preflight."""
    with ThreadPoolExecutor(max_workers=SURVEY_THREADS, thread_name_prefix="crmdr-survey") as pool:
        truths = list(pool.map(safe_check, steps))
    return [(step.name, step.describe, truth) for step, truth in zip(steps, truths, strict=True)]


PROGRESS_SECONDS = 5.0  # between two progress lines of a wait


def wait_until(check: Callable[[], Truth], seconds: float, what: str,
               progress: Callable[[str], None] | None = None, every: float = 0.1) -> str:
    """Poll a check every `every` seconds until it holds, or fail naming what did not happen; `progress`
    hears the check's latest answer every PROGRESS_SECONDS, so a long wait is never silent."""
    polls, period = [0], max(1, round(PROGRESS_SECONDS / every))

    def polled() -> Truth:
        truth = check()
        polls[0] += 1
        if progress is not None and not truth.done and polls[0] % period == 0:
            progress(f"still waiting for {what} ({polls[0] * every:.0f}s of {seconds:g}s): {truth.detail}")
        return truth

    retrying = Retrying(stop=stop_after_delay(seconds), wait=wait_fixed(every),
                        retry=retry_if_result(lambda truth: not truth.done),
                        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None)
    last: Truth | None = retrying(polled)
    if last is None or not last.done:
        raise VerificationFailed(f"{what} did not happen within {seconds:g}s: {last.detail if last else ''}")
    return last.detail


def _hold(step: str) -> None:
    spec = os.environ.get("CRMDR_TEST_HOLD_AT", "")
    name, _, file = spec.partition(":")
    if name != step or not file:
        return
    Path(f"{file}.held").touch()
    waiter = threading.Event()
    for _ in range(HOLD_LIMIT_SECONDS * 20):
        if Path(file).exists():
            return
        waiter.wait(0.05)


def _crash(step: str) -> None:
    if os.environ.get("CRMDR_TEST_CRASH_AT") == step:
        log.warning("test hook: crashing after the action of step %s", step)
        os._exit(CRASH_EXIT)


def _retryable_cloud(err: BaseException) -> bool:
    return isinstance(err, CloudError) and err.retryable


class Engine:
    """Runs steps in order against one journal; `on_done` hears of every finished step."""

    def __init__(self, journal: Journal, on_done: Callable[[Step, str], None] | None = None) -> None:
        self.journal = journal
        self.on_done = on_done or (lambda step, status: None)
        self.current: str = ""
        self.step: Step | None = None
        """The step running now; None between steps (an interrupt there aborts no step)."""

    def run(self, steps: Sequence[Step]) -> None:
        for step in steps:
            self.run_step(step)

    def run_step(self, step: Step) -> None:
        self.current, self.step = step.name, step
        _hold(step.name)
        truth = safe_check(step)
        if truth.done:
            _crash(step.name)
            self.journal.record(step.name, "skipped", reason=f"already done: {truth.detail}", phase=step.phase)
            self.step = None
            self.on_done(step, "skipped")
            return
        if step.guard is not None:
            refusal = step.guard()
            if refusal:
                self.journal.record(step.name, "aborted", reason=refusal, phase=step.phase)
                raise Refused(refusal)
        evidence, attempt = self._act(step)
        _crash(step.name)
        verified = (step.verify or step.check)()
        if not verified.done:
            reason = f"step {step.name}: action ran but verification failed: {verified.detail}"
            self.journal.record(step.name, "failed", attempt=attempt, reason=reason, evidence=evidence,
                                phase=step.phase)
            raise VerificationFailed(reason)
        said = evidence if verified.detail in evidence else f"{evidence}; {verified.detail}"  # once, not twice
        self.journal.record(step.name, "succeeded", attempt=attempt, evidence=said.strip("; "), phase=step.phase)
        self.step = None
        self.on_done(step, "succeeded")

    def _act(self, step: Step) -> tuple[str, int]:
        retrying = Retrying(
            stop=stop_after_attempt(step.attempts) | stop_after_delay(step.timeout),
            wait=wait_exponential(multiplier=0.5, max=5),
            retry=retry_if_exception_type(HostError) | retry_if_exception(_retryable_cloud),
            reraise=True,
        )
        evidence, number = "", 0
        for attempt in retrying:
            number = attempt.retry_state.attempt_number
            with attempt:
                self.journal.record(step.name, "started", attempt=number, phase=step.phase)
                try:
                    evidence = step.act()
                except DrError as err:
                    status: Status = "aborted" if isinstance(err, Refused) else "failed"
                    self.journal.record(step.name, status, attempt=number, reason=str(err), phase=step.phase)
                    raise
        return evidence, number
