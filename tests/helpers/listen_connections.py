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

from devtools.procfs import connections_to
from shared.adapters.firestore_watch import FirestoreRunWatcher, ListenChannels, ListenClient


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
