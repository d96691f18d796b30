"""Where a leg stands: ``pending`` (in the outbox) → ``sent`` → one terminal status
(schemas.messages.TERMINAL_STATUSES): ``found``, ``not_found``, ``refused``, ``failed``, ``timed_out``."""

from __future__ import annotations

# Legs still waiting for an answer: the outbox and the re-send sweep read these.
OPEN_LEG = ("pending", "sent")
# Terminal statuses that mean the institution did not answer the question: officers should look.
UNANSWERED = ("refused", "failed", "timed_out")
