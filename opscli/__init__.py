"""opscli: read-only operations CLI that verifies the live posture of a StreamTech platform environment.

Exit codes (the contract):
  0  compliant: no FAIL at or above --fail-on (ACCEPTED findings do not count), no ERROR
  1  findings: at least one FAIL at or above --fail-on
  2  usage error: bad option, suffix, endpoint URL, outputs, stack-record or accepted-findings file (not a
     regular file, over 16 MiB, unreadable), report path that is not a regular file, is a symbolic link,
     names a directory or lies in one that does not exist, or is the history or another report's file, or
     rule id
  3  incomplete: a check could not look (access denied, throttled, endpoint down, malformed answer,
     no answer before --timeout), no check reached a verdict, the stack's declaration omits resources it
     lists or a stack record is not the whole stack, a report file that could not be written after the
     run (the printed report says 3), or no credentials; takes precedence over 1
  130  interrupted (Ctrl-C): the partial report is printed; unfinished checks are ERROR
"""

__version__ = "0.1.0"
