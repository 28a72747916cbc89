import subprocess
import sys
import time

from testkit import strays
from testkit.processes import ROOT

# A run that starts one process as the stacks do, says its pid, and waits to be killed.
RUN = """
import sys, time
from testkit.processes import Process, clean_env
sleeper = Process("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], clean_env(), sys.argv[1])
print(sleeper.start().popen.pid, flush=True)
time.sleep(120)
"""


def gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while strays.running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_killed_runs_processes_are_stopped_and_a_live_runs_are_left(tmp_path):
    run = subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        started = int(run.stdout.readline())
        mark = strays.identity(run.pid)
        assert strays.marked()[mark] == [started]

        stopped, live = strays.stop_left_behind()
        assert started not in stopped
        assert live[mark] == [started]  # its run is still going
        assert strays.running(started)

        run.kill()  # as a timeout would: no teardown
        run.wait()
        assert strays.running(started)  # what the run started outlives it
        stopped, live = strays.stop_left_behind()
        assert started in stopped
        assert mark not in live
        assert gone(started)
        assert mark not in strays.marked()
    finally:
        run.kill()
        run.wait()
        run.stdout.close()
