"""Runs every benchmark and prints its figures."""

from benchmarks import first_frame, runner_scaling

if __name__ == "__main__":
    runner_scaling.main()
    first_frame.main()
