"""Partner API keys and request signing (no Flask): the cash networks and the reimbursement feed."""
