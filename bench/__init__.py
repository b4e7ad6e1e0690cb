"""Benchmarks: scripts that start the whole local stack and print figures (no assertions).

.venv/bin/python -m bench.brainstorm   # Firestore ops, deliveries, latency, import time
.venv/bin/python -m bench.recovery     # a worker killed mid-step: time until COMPLETED
"""
