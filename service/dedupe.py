"""Cards already shown at order-select, so order-sign does not show them again (in memory, with TTL)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["ShownCards"]


class ShownCards:
    """(patient, dedupe key) pairs seen recently; the patient id is kept only as a hash."""

    def __init__(
        self, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic, limit: int = 100_000
    ):
        self._ttl = ttl_s
        self._clock = clock
        self._limit = limit
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _patient(patient_id: str) -> str:
        return hashlib.sha256(patient_id.encode()).hexdigest()

    def remember(self, patient_id: str, keys: Iterable[str]) -> None:
        """Note that these cards were shown for this patient now."""
        now, patient = self._clock(), self._patient(patient_id)
        with self._lock:
            if len(self._seen) >= self._limit:
                self._evict(now)
            for key in keys:
                self._seen[(patient, key)] = now + self._ttl

    def shown(self, patient_id: str, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` shown for this patient within the TTL."""
        now, patient = self._clock(), self._patient(patient_id)
        with self._lock:
            return {k for k in keys if self._seen.get((patient, k), 0.0) > now}

    def _evict(self, now: float) -> None:
        for pair in [p for p, expires in self._seen.items() if expires <= now]:
            del self._seen[pair]
        while len(self._seen) >= self._limit:  # still full of live entries: drop the oldest
            del self._seen[next(iter(self._seen))]
