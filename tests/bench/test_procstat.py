"""bench/procstat.py reads real /proc counters of real processes."""
import os
import socket
import subprocess
import sys
import time

from bench import procstat


def test_cpu_and_faults_of_a_child_tree_over_a_window():
    """A child burns 0.3 s of CPU and touches 32 MiB inside the window; the delta shows both."""
    child = subprocess.Popen([sys.executable, "-c",
                              "import time,sys\nsys.stdin.readline()\n"
                              "end=time.process_time()+0.3\n"
                              "while time.process_time()<end: pass\n"
                              "b=b'x'*(32*2**20)\nprint('done',flush=True)\nsys.stdin.readline()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        before = procstat.sample_tree(os.getpid())
        assert child.pid in before
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        after = procstat.sample_tree(os.getpid())
        d = procstat.delta(before, after)
        assert d["same_tree"]
        assert 0.25 <= d["cpu_s"] < 5.0
        assert d["minflt"] > 32 * 2**20 // procstat.PAGE_SIZE // 2  # touching 32 MiB faults
        assert after[child.pid].rss_bytes > 32 * 2**20
    finally:
        child.stdin.write("done\n")
        child.stdin.flush()
        child.wait(5)


def test_listening_socket_identifies_the_serving_process():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        inodes = procstat.listening_inodes(port)
        assert inodes and procstat.holds_socket(os.getpid(), inodes)
    assert not procstat.listening_inodes(port)


def test_vanished_process_raises_lookup_error():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    try:
        procstat.sample(child.pid)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("a reaped pid must not have counters")


def test_thread_counters_name_this_process_threads():
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    counters = procstat.thread_counters([os.getpid()])
    main_name = procstat.sample(os.getpid()).comm
    assert main_name in counters
    cpu, sys_s, faults = counters[main_name]
    assert cpu >= 0.05 and 0 <= sys_s <= cpu and faults > 0
