"""The training job's own process, started and watched by the app's :class:`agents.jobs.manager.JobManager`.

python -m agents.jobs.worker DATA_ROOT JOB_ID [--resume]
"""

import argparse
import sys
from pathlib import Path

from agents.jobs.manager import DISK_FULL, DISK_FULL_STATUS, JobManager
from agents.train.training import training_device
from agents.train.training_time import use_training_threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agents.jobs.worker",
        description="Run one training job of the Arena (the app starts this; it is not meant to be run by hand).",
    )
    parser.add_argument("root", type=Path, help="the Arena's data folder")
    parser.add_argument("job_id", help="the job's folder name under jobs/")
    parser.add_argument("--resume", action="store_true", help="continue from the job's last checkpoint")
    args = parser.parse_args(argv)
    try:
        JobManager(args.root).run_job(args.job_id, args.resume)
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        print(f"The disk is full: the job's state could not be written ({error}).", file=sys.stderr)
        return DISK_FULL_STATUS  # the app's supervisor says it, with how much is free
    return 0


if __name__ == "__main__":
    use_training_threads(training_device())  # a process that exists to train (not main(): tests call it in theirs)
    sys.exit(main())
