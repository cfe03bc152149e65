"""Run the `transactions_etl` DAG once in this process and say how each task ended.

    make airflow-dag-test   (sources .airflow/env, then runs this with .airflow/bin/python)

`dag.test()` does not raise when a task fails, so the run's task instances are read back: each
task's state is printed, then, when a task failed, its cause in a line of its own (its error,
not Airflow's wrapping of it: the causes are otherwise buried in the tasks' logs above). The
exit status is 1 unless the run and every task succeeded (2 when the DAG does not even import).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from airflow.dag_processing.dagbag import DagBag
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session

DAG_ID = "transactions_etl"
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


def main() -> int:
    """Run the DAG once; 0 when every task succeeded."""
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.dags.get(DAG_ID)
    if bag.import_errors or dag is None:
        for path, error in bag.import_errors.items():
            print(f"{path}: {error}", file=sys.stderr)
        print(f"the DAG {DAG_ID} did not import", file=sys.stderr)
        return 2
    for task in dag.tasks:
        task.on_failure_callback = [*task.on_failure_callback, remember_cause]
    run = dag.test()
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
