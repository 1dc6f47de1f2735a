"""platform_utils.signals: a signal that comes while the main thread holds a lock its callback needs (a log line
being written, an event being waited on) still runs the callback, in order, and deadlocks nothing. Each case runs
in a process of its own: the handler is the process's, and a deadlock there is a timeout here, not a hung suite."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from tests.conftest import ROOT

CHILD = textwrap.dedent("""
    import os, signal, threading
    from platform_utils.signals import on_signals

    lock, received, done = threading.Lock(), [], threading.Event()

    def callback(signum):
        with lock:  # what the main thread holds when the signals come
            received.append(signal.Signals(signum).name)
            if len(received) == 2:
                done.set()

    on_signals((signal.SIGUSR1, signal.SIGUSR2), callback)
    with lock:
        for signum in (signal.SIGUSR2, signal.SIGUSR1):
            os.kill(os.getpid(), signum)
        sum(range(100_000))  # bytecodes, where a handler of the main thread's would run and wait on `lock`
    assert done.wait(20), received
    print(" ".join(received))
""")


def test_signals_that_come_while_the_main_thread_holds_the_callbacks_lock_run_it_in_order():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "SIGUSR2 SIGUSR1"), done.stderr


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_the_callback_runs_off_the_main_thread_and_the_default_action_is_gone(signum):
    child = textwrap.dedent(f"""
        import os, signal, threading
        from platform_utils.signals import on_signals
        ran = threading.Event()
        on_signals((signal.SIGTERM, signal.SIGINT),
                   lambda s: threading.current_thread() is not threading.main_thread() and ran.set())
        os.kill(os.getpid(), signal.{signum})
        assert ran.wait(20)
        print("alive")
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "alive"), done.stderr


def test_a_callback_that_raises_is_reported_and_the_next_signal_still_runs_it():
    child = textwrap.dedent("""
        import os, signal, threading
        from platform_utils.signals import on_signals
        calls, second = [], threading.Event()

        def callback(signum):
            calls.append(signum)
            if len(calls) == 1:
                raise RuntimeError("the first one fails")
            second.set()

        on_signals((signal.SIGUSR1,), callback)
        os.kill(os.getpid(), signal.SIGUSR1)
        while not calls:
            threading.Event().wait(0.01)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert second.wait(20), calls
        print(len(calls))
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr
    assert "error: handling signal 10: RuntimeError('the first one fails')" in done.stderr


def test_a_child_forked_without_exec_gets_back_the_handlers_and_never_runs_its_parents_callback():
    """The pipe and the handler are inherited by fork, the pump thread is not: a SIGTERM sent to such a child once
    ran the parent's callback (the parent stopped) and the child ignored it."""
    child = textwrap.dedent("""
        import os, signal, threading, time
        from platform_utils.signals import on_signals
        parents, ran = [], threading.Event()
        on_signals((signal.SIGTERM,), lambda s: (parents.append(s), ran.set()))
        on_signals((signal.SIGUSR1,), lambda s: None)  # a second call: the child still gets the defaults back
        ready, told = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(told, b"x")  # forked (CPython drops a signal that comes before its fork is done)
            time.sleep(30)
            os._exit(0)
        os.read(ready, 1)
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, ran.wait(0.5) or parents)
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "True []"), done.stderr


def test_a_flood_of_one_signal_while_the_callback_is_busy_never_drops_another():
    child = textwrap.dedent("""
        import os, signal, threading
        from platform_utils.signals import on_signals
        busy, release, seen, term = threading.Event(), threading.Event(), [], threading.Event()

        def callback(signum):
            seen.append(signum)
            if signum == signal.SIGTERM:
                term.set()
            elif len(seen) == 1:
                busy.set()
                release.wait(30)  # stuck, while more than a pipe's 64 KiB of signals come

        on_signals((signal.SIGUSR1, signal.SIGTERM), callback)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert busy.wait(20)
        for _ in range(70_000):
            os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGTERM)
        release.set()
        assert term.wait(20), len(seen)
        print(seen.count(signal.SIGUSR1) <= 3)
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr


def test_off_the_main_thread_it_refuses_before_making_anything():
    from platform_utils.signals import on_signals

    failed: list[BaseException] = []
    threads_before = threading.active_count()

    def install() -> None:
        try:
            on_signals((signal.SIGUSR1,), print)
        except ValueError as exc:
            failed.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(10)
    assert [str(e) for e in failed] == ["on_signals must be called from the main thread"]
    assert threading.active_count() == threads_before
