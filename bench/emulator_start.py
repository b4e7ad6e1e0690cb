"""CPU each emulator's JVM spends until it answers, with and without its class-data-sharing archive.

Starts the pair (`devtools.emulators.Emulators`) `--rounds` times each way,
alternating, on free ports (or from `--port-base`), and prints each JVM's
user+system CPU at the moment both answer, read from /proc (Linux), so the
figure does not depend on the machine's load the way wall time does. The
archives are those of the user's cache (`devtools.cds`); a first round
without them trains them, as any first start does.

    python -m bench.emulator_start [--rounds 5] [--quick] [--port-base 9100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from devtools import cds
from devtools.emulators import KINDS, QUICK_JVM, Emulators


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _one(
    cds_dir: Path | None, options: tuple[str, ...], ports: tuple[int, int]
) -> dict[str, float]:
    emulators = Emulators(
        firestore_port=ports[0], pubsub_port=ports[1], jvm_options=options, cds_dir=cds_dir
    )
    began = time.monotonic()
    emulators.start()
    try:
        figures = {"wall": time.monotonic() - began}
        for kind, process in zip(KINDS, emulators.processes, strict=True):
            figures[kind] = _cpu_seconds(process.pid)
        emulators.wait_for_archives()
        return figures
    finally:
        emulators.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="QUICK_JVM, as the tests run them")
    parser.add_argument("--port-base", type=int, default=0)
    args = parser.parse_args()
    options = QUICK_JVM if args.quick else ()
    ports = (args.port_base, args.port_base + 1) if args.port_base else (0, 0)
    # Train the archives first if this machine has none yet.
    _one(cds.default_directory(), options, ports)
    results: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    for _ in range(args.rounds):
        results["without"].append(_one(None, options, ports))
        results["with"].append(_one(cds.default_directory(), options, ports))
    print(f"JVM options {' '.join(('-Xmx512m', *options))}; {args.rounds} starts each way")
    for way, rounds in results.items():
        line = ", ".join(
            f"{kind} CPU median {statistics.median(r[kind] for r in rounds):.2f} s "
            f"({' '.join(f'{r[kind]:.2f}' for r in rounds)})"
            for kind in KINDS
        )
        wall = statistics.median(r["wall"] for r in rounds)
        print(f"{way:>7} archive: {line}; both answering after {wall:.2f} s (median wall)")


if __name__ == "__main__":
    main()
