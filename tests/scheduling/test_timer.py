from __future__ import annotations

from scheduling.timer import Timer


def test_a_job_registered_twice_runs_once_and_run_now_waits_for_it() -> None:
    runs: list[int] = []
    timer = Timer(interval_seconds=3600)
    timer.every("job", lambda: runs.append(1))
    timer.every("job", lambda: runs.append(2))  # a restart re-registering: replaces, never doubles
    timer.start()
    try:
        assert [job.id for job in timer.scheduler.get_jobs()] == ["job"]
        timer.run_now("job")
        timer.run_now("job")
        assert runs == [2, 2]
    finally:
        timer.shutdown()


def test_a_failing_job_is_logged_and_the_timer_goes_on(caplog) -> None:  # type: ignore[no-untyped-def]
    timer = Timer(interval_seconds=3600)
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    timer.every("flaky", flaky)
    timer.start()
    try:
        timer.run_now("flaky")
        timer.run_now("flaky")
    finally:
        timer.shutdown()
    assert calls == [1, 1]
    assert any("scheduled job flaky failed" in r.getMessage() for r in caplog.records)
