"""Where the local pieces (emulators, push deliverer, functions, doctor) find each other.

One frozen value read from the same environment variables the functions
read. Its own module so that `devtools.emulators` (which starts the
deliverer) and `devtools.push` (the deliverer, which reads it) both import
it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_EVENTS_TOPIC,
    DEFAULT_RESULTS_TOPIC,
    DEFAULT_TRIGGERS_TOPIC,
    LocalStackSettings,
)

DEFAULT_PROJECT = "demo-genjobs"


def _port(host: str) -> int:
    return int(host.rsplit(":", 1)[1])


@dataclass(frozen=True)
class LocalConfig:
    """Where the local pieces find each other, from the same variables the functions read."""

    project: str
    firestore_port: int
    pubsub_port: int
    events_topic: str
    dead_letter_topic: str
    results_topic: str
    triggers_topic: str
    worker_url: str
    sweep_seconds: float
    push_max_in_flight: int = LocalStackSettings().push_max_in_flight

    @property
    def worker_topics(self) -> tuple[str, ...]:
        """The topics whose subscriptions deliver to the worker (`devtools.push` pulls them)."""
        return (self.events_topic, self.dead_letter_topic, self.triggers_topic)

    @property
    def pubsub_host(self) -> str:
        return f"127.0.0.1:{self.pubsub_port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalConfig:
        return cls(
            project=env.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_PROJECT,
            firestore_port=_port(env.get("FIRESTORE_EMULATOR_HOST") or "127.0.0.1:8681"),
            pubsub_port=_port(env.get("PUBSUB_EMULATOR_HOST") or "127.0.0.1:8682"),
            events_topic=env.get("EVENTS_TOPIC") or DEFAULT_EVENTS_TOPIC,
            dead_letter_topic=env.get("DEAD_LETTER_TOPIC") or DEFAULT_DEAD_LETTER_TOPIC,
            results_topic=env.get("RESULTS_TOPIC") or DEFAULT_RESULTS_TOPIC,
            triggers_topic=env.get("TRIGGERS_TOPIC") or DEFAULT_TRIGGERS_TOPIC,
            worker_url=env.get("WORKER_URL")
            or f"http://127.0.0.1:{env.get('WORKER_PORT') or 8081}",
            sweep_seconds=float(env.get("SWEEP_SECONDS") or 15),
            push_max_in_flight=LocalStackSettings.from_mapping(env).push_max_in_flight,
        )

    def env(self) -> dict[str, str]:
        """The variables a function process needs to find this local cloud."""
        return {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.firestore_port}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.pubsub_port}",
            "EVENTS_TOPIC": self.events_topic,
            "DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "RESULTS_TOPIC": self.results_topic,
            "TRIGGERS_TOPIC": self.triggers_topic,
        }
