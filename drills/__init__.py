"""Fault drills (`make drills`): each one starts private Redis and PostgreSQL instances, the
gateway under granian and RQ workers as the Procfile runs them, breaks one of them under
load and counts what the callers and the database saw. Nothing shared is touched."""
