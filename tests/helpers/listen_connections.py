"""Watch runs in a process of its own and count its connections to the Firestore emulator.

`python -m tests.helpers.listen_connections PORT PER_CHANNEL RUN_ID...` prints
`{"listens": [...], "connections": N}` once every watch heard its run. A
process of its own, because the test process holds other clients'
connections, which open and close as they please.
"""

from __future__ import annotations

import json
import os
import queue
import sys
from pathlib import Path

from shared.adapters.firestore_watch import FirestoreRunWatcher, ListenChannels, ListenClient


def connections_to(port: int, pid: int | None = None) -> int:
    """Established TCP connections of a process (this one by default) to 127.0.0.1:`port`."""
    proc = f"/proc/{pid or 'self'}"
    inodes = set()
    for fd in os.listdir(f"{proc}/fd"):
        try:
            target = os.readlink(f"{proc}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"{proc}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def main(argv: list[str]) -> int:
    port, per_channel, run_ids = int(argv[0]), int(argv[1]), argv[2:]
    project = os.environ["GOOGLE_CLOUD_PROJECT"]
    channels = ListenChannels(lambda: ListenClient(project=project), per_channel=per_channel)
    watcher = FirestoreRunWatcher(channels)
    heard: queue.SimpleQueue[object] = queue.SimpleQueue()
    subscriptions = [watcher.watch(run_id, heard.put) for run_id in run_ids]
    for _ in run_ids:
        heard.get(timeout=30)
    print(json.dumps({"listens": channels.listens(), "connections": connections_to(port)}))
    for subscription in subscriptions:
        subscription.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
