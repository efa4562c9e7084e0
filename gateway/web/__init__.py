"""Blueprints only: parse, call a service, render."""
