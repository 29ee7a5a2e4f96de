#!/usr/bin/env python3
"""free_port.py - print a TCP port on 127.0.0.1 that is free now and that no
other test or script on this machine was given in the last ten minutes.

The kernel offers a free port (bind to port 0), but the port stays free only
until the daemon meant to listen there starts, seconds later; tests run side
by side (ctest -j), so two of them could be offered the same port in that
time and one daemon would fail to bind. The ports handed out are kept, with
the time, in $TMPDIR/sesame-ports (or /tmp), under an exclusive flock; a
port in it is not handed out again for ten minutes. If that file cannot be
used, the kernel's offer is printed as it is.
"""
import fcntl
import os
import socket
import time

HOLD = 600  # seconds a port handed out is not handed out again


def offer():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", "sesame-ports")
    try:
        f = open(path, "a+")
    except OSError:
        print(offer())
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        now = time.time()
        given = {}
        for line in f:
            fields = line.split()
            if len(fields) == 2 and fields[0].isdigit():
                try:
                    when = float(fields[1])
                except ValueError:
                    continue
                if now - when < HOLD:
                    given[int(fields[0])] = when
        port = offer()
        for _ in range(100):
            if port not in given:
                break
            port = offer()
        given[port] = now
        f.seek(0)
        f.truncate()
        f.write("".join(f"{p} {w:.0f}\n" for p, w in given.items()))
    print(port)


if __name__ == "__main__":
    main()
