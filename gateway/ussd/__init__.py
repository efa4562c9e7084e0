"""USSD: aggregator adapters (one module each), the Redis session store, the hop service."""
