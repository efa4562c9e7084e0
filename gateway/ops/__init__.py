"""Operations: staff accounts of the dashboard and the figures it shows."""
