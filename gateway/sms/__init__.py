"""SMS: the outbox (outbox.py), sending it after commit (dispatch.py, jobs.py, service.py)
through a sender (senders.py, africastalking.py), the sweep, the clock and the monthly
reminders (sweep.py, reminders.py). Sending is done by workers, never in a hop."""
