#!/usr/bin/env python3
"""Read every file under a mount in a loop, counting successes and errors.

Usage: reader.py ROOT STATUS_JSON STOP_FILE MAX_SECONDS

Each file is opened, its cached pages dropped (so reads reach the filesystem), read to
the end and closed. After every file the counts are written to STATUS_JSON atomically,
so they survive even if a read hangs for good. Stops when STOP_FILE exists or after
MAX_SECONDS.
"""
import errno
import json
import os
import sys
import time

root, status_path, stop_file, max_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
start = time.monotonic()
state = {"ok": 0, "errors": 0, "by_errno": {}, "bytes": 0, "last_ok_at": None,
         "in_flight": None, "done": False, "first_errors": []}


def save():
    tmp = status_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, status_path)


def failed(e, path, step, offset):
    state["errors"] += 1
    name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
    state["by_errno"][name] = state["by_errno"].get(name, 0) + 1
    if len(state["first_errors"]) < 5:
        # Where it failed: the file, the call, the offset, seconds since the start and
        # since the file was opened.
        state["first_errors"].append({"path": path, "call": step, "errno": name, "offset": offset,
                                      "at": round(time.monotonic() - start, 3),
                                      "file_s": round(time.monotonic() - opened_at, 3)})


files = []
for d, _, names in os.walk(root):
    files.extend(os.path.join(d, n) for n in names)
files.sort()
if not files:
    state["by_errno"]["no-files"] = 1
    state["errors"] = 1
while not os.path.exists(stop_file) and time.monotonic() - start < max_s and files:
    for p in files:
        state["in_flight"] = p
        step, offset, opened_at = "open", 0, time.monotonic()
        try:
            fd = os.open(p, os.O_RDONLY)
            try:
                step = "fadvise"
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                step = "read"
                while True:
                    b = os.read(fd, 1 << 16)
                    if not b:
                        break
                    offset += len(b)
                    state["bytes"] += len(b)
                step = "close"
            finally:
                os.close(fd)
            state["ok"] += 1
            state["last_ok_at"] = round(time.monotonic() - start, 3)
        except OSError as e:
            failed(e, p, step, offset)
            time.sleep(0.05)
        state["in_flight"] = None
        save()
        if os.path.exists(stop_file):
            break
state["done"] = True
save()
