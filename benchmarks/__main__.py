"""Runs every benchmark and prints its figures."""

from benchmarks import (
    env_file_size,
    first_frame,
    pane_wall_time,
    runner_scaling,
    sandbox_times,
)

if __name__ == "__main__":
    runner_scaling.main()
    first_frame.main()
    sandbox_times.main()
    pane_wall_time.main()
    env_file_size.main()
