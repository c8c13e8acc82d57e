#!/usr/bin/python3
"""time_status.py: times `hptune status SWEEP` once every INTERVAL seconds
until the sweep ends, for bench/scale.sh.

Usage: time_status.py CLI SWEEP OUT_FILE [INTERVAL]
Each run is timed from just before the CLI process is started (fork and
exec included) until it has exited and been reaped, with nothing else
inside the window (a shell's `date` before and after, as scale.sh used to
time it, added two more process starts to every sample).  One line per run
goes to OUT_FILE, in microseconds.  Exit status: 0 the sweep is done, 3 it
ended otherwise (failed, cancelled), 1 the CLI failed (its stderr is
printed), 2 usage.
"""
import subprocess
import sys
import time

if len(sys.argv) not in (4, 5):
    sys.exit(__doc__)
cli, sweep, out_path = sys.argv[1:4]
interval = float(sys.argv[4]) if len(sys.argv) == 5 else 0.5
with open(out_path, "w") as out:
    while True:
        t0 = time.perf_counter()
        r = subprocess.run([cli, "status", sweep, "--timeout", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"hptune status failed (exit {r.returncode}): {r.stderr.strip()}",
                  file=sys.stderr)
            sys.exit(1)
        print(round(dt * 1e6), file=out, flush=True)
        lines = r.stdout.splitlines()
        line = lines[1] if len(lines) > 1 else ""
        if " done " in line:
            sys.exit(0)
        if " failed " in line or " cancelled " in line:
            print(line)
            sys.exit(3)
        time.sleep(interval)
