"""Run one DAG once in this process and say how each task ended.

    make airflow-dag-test   (sources .airflow/env, then runs this with .airflow/bin/python)
    python ops/airflow_dag_test.py [DAG_ID] [--logical-date YYYY-MM-DD[THH:MM[:SS][+HH:MM]]]

The DAG is `transactions_etl` unless named (argument, or the environment's `DAG_ID`), e.g.
`savings_interest`. Without a logical date (argument, or `LOGICAL_DATE`) the run is for now, as
`dag.test()` makes it; with one (UTC unless it names its offset) the run is the one a scheduler
would start for that instant: logical date and run-after both that instant, so under the cron
trigger timetables of these DAGs its data interval ends there too (`savings_interest` for
2024-04-01 posts through 2024-03-31). A rerun for the same logical date replaces the earlier
run's record (`dag.test()` does) and runs every task again.

Through make: `make airflow-dag-test DAG_ID=savings_interest LOGICAL_DATE=2024-04-01
SAVINGS_INTEREST_RETRIES=0` (make passes its command line's variables on; without the last, a
failed task would be retried after its delay before the run ends).

`dag.test()` does not raise when a task fails, so the run's task instances are read back: each
task's state is printed, then, when a task failed, its cause in a line of its own (its error,
not Airflow's wrapping of it: the causes are otherwise buried in the tasks' logs above). The
exit status is 1 unless the run and every task succeeded (2 when the DAG does not even import).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

from airflow.dag_processing.dagbag import DagBag
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session

DEFAULT_DAG_ID = "transactions_etl"
# What `external_python` puts before the error the task's own process wrote.
WRAPPED = "Process returned non-zero exit status"

causes: dict[str, str] = {}


def remember_cause(context: dict[str, Any]) -> None:
    """A failure callback added to every task: keep what made it fail, for the summary."""
    causes[context["ti"].task_id] = cause_of(context.get("exception"))


def cause_of(exception: BaseException | str | None) -> str:
    """The error a task failed with, on one line (Airflow's "non-zero exit status" left out)."""
    lines = [line.strip() for line in str(exception or "").splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith(WRAPPED):
        lines = lines[1:]
    return " ".join(lines) or "no error was recorded: see the task's log above"


def instant(text: str) -> datetime:
    """A logical date from the command line: ISO 8601, UTC when it names no offset.

    Raises:
        argparse.ArgumentTypeError: `text` is no ISO 8601 date or instant.
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no ISO 8601 date or instant") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The DAG's id and the run's logical date (None: now), the environment's by default."""
    parser = argparse.ArgumentParser(description="Run one DAG once; report each task's state.")
    parser.add_argument(
        "dag_id",
        nargs="?",
        default=os.environ.get("DAG_ID") or DEFAULT_DAG_ID,
        help=f"the DAG to run [env DAG_ID, default {DEFAULT_DAG_ID}]",
    )
    parser.add_argument(
        "--logical-date",
        type=instant,
        default=os.environ.get("LOGICAL_DATE") or None,
        help="the instant the run is for, e.g. 2024-04-01 [env LOGICAL_DATE, default now]",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the DAG once; 0 when every task succeeded."""
    args = arguments(argv)
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.dags.get(args.dag_id)
    if bag.import_errors or dag is None:
        for path, error in bag.import_errors.items():
            print(f"{path}: {error}", file=sys.stderr)
        print(f"the DAG {args.dag_id} did not import", file=sys.stderr)
        return 2
    for task in dag.tasks:
        task.on_failure_callback = [*task.on_failure_callback, remember_cause]
    if args.logical_date is None:
        run = dag.test()
    else:  # as a scheduler would start it: run after the instant it is for
        run = dag.test(logical_date=args.logical_date, run_after=args.logical_date)
    with create_session() as session:
        stored = session.get(DagRun, run.id)
        assert stored is not None
        instances = sorted(
            stored.get_task_instances(session=session), key=lambda t: t.start_date or t.end_date
        )
        states = {ti.task_id: str(ti.state) for ti in instances}
        print(f"dag run {stored.run_id}: {stored.state}")
        for task_id in (t.task_id for t in dag.topological_sort()):
            print(f"  {task_id}: {states.get(task_id, 'not run')}")
        ok = stored.state == "success" and all(s == "success" for s in states.values())
    failed = [t.task_id for t in dag.topological_sort() if states.get(t.task_id) == "failed"]
    if failed:
        print("why:")
        for task_id in failed:
            print(f"  {task_id}: {causes.get(task_id) or cause_of(None)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
