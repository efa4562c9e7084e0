"""SMS: the outbox and its templates. Sending is done by workers, never in a hop."""
